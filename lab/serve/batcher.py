"""Requests for the same adapter share one forward pass.

Requests are grouped by (base, adapter, sampling): greedy ones of an adapter together, sampled ones with the same
temperature and top_p together, and a request with a seed alone (its draw stays reproducible). Each group has at most
one runner waiting for the base's fair turn (lab.chat.loaded.FairLock); when the turn comes it seals the batch (what
is pending then, up to MAX_BATCH) and runs one generate() over it (lab.serve.rows). Requests arriving after that form
the next batch, whose runner waits for the turn and so interleaves per token with the running one, as the Chat tab's
panes do. On an idle server a lone request starts at once: nothing waits to fill a batch.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

from lab.chat.events import Event
from lab.serve.generate import Params

MAX_BATCH = 8  # rows of one generate(); more pending requests of the group form the next batch


@dataclass(eq=False)
class Request:
    handle: object  # lab.chat.loaded.Handle, owned by the batcher from submit() on: released when its batch ends
    ids: object  # the prompt's input ids, shape (1, n)
    params: Params
    out: queue.Queue = field(default_factory=queue.Queue)
    stop: threading.Event = field(default_factory=threading.Event)  # set: the client is gone or a stop string hit
    start: float = field(default_factory=time.perf_counter)


def group_of(handle, params: Params) -> tuple:
    """Which requests may share a forward pass: one base, one adapter, one way of drawing tokens."""
    if params.seed is not None:
        drawing = (object(),)  # its own group: a seeded draw must not depend on other rows
    elif params.temperature <= 0:
        drawing = ("greedy",)
    else:
        drawing = ("sample", params.temperature, params.top_p)
    return (handle.entry, handle.adapter, *drawing)


class Batcher:
    """The server's batches, one runner thread per batch; a group has at most one runner waiting for its turn."""

    def __init__(self, max_batch: int = MAX_BATCH):
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: dict[tuple, list[Request]] = {}
        self._waiting: set[tuple] = set()  # groups whose runner waits for the base's turn

    def submit(self, handle, ids, params: Params) -> Request:
        req = Request(handle, ids, params)
        key = group_of(handle, params)
        with self._lock:
            self._pending.setdefault(key, []).append(req)
            start = key not in self._waiting
            self._waiting.add(key)
        if start:
            self._start(key)
        return req

    def queued(self) -> int:
        """Requests waiting for their batch to start."""
        with self._lock:
            return sum(len(reqs) for reqs in self._pending.values())

    def _start(self, key: tuple) -> None:
        threading.Thread(target=self._run, args=(key,), daemon=True, name="serve-batch").start()

    def _seal(self, key: tuple) -> list[Request]:
        with self._lock:
            pending = self._pending.pop(key, [])
            batch, rest = pending[: self.max_batch], pending[self.max_batch:]
            if rest:  # over the cap: the next batch's runner waits for the turn now
                self._pending[key] = rest
            else:
                self._waiting.discard(key)
        if rest:
            self._start(key)
        return batch

    def _run(self, key: tuple) -> None:
        entry, adapter = key[0], key[1]
        batch: list[Request] = []
        try:
            entry.lock.acquire()  # the base's fair turn; the batch is sealed once it is ours
            try:
                batch = self._seal(key)
                live = [r for r in batch if not r.stop.is_set()]  # a client gone while queued
                if live:
                    from lab.serve.rows import run_batch  # heavy: transformers

                    entry.activate(adapter)
                    run_batch(entry.model, live)
            finally:
                entry.lock.release()
        except Exception as exc:  # every row of the batch fails, the server goes on
            for req in batch:
                req.out.put(Event(0, "error", f"{type(exc).__name__}: {str(exc)[:300]}"))
        finally:
            for req in batch:
                req.handle.release()
