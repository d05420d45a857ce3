"""Stream one prompt through several models at once, interleaved, with timings per pane.

Design: each pane generates in its own thread with `model.generate(streamer=PaneStreamer)`. Panes on
different base models run in parallel. Panes on the *same* base (the base and its adapters) cannot run
concurrently on one module, because the active adapter is module state: they take turns under the
base's fair (FIFO) lock, one token each — the streamer's put() yields the turn after every token and
re-applies its own adapter before the next forward. So every pane advances together instead of one
after another, each keeps its own KV cache, and nothing is ever computed with the wrong adapter.
(Batching several adapters in one forward would be faster on a GPU, but breaks per-pane stop and
streaming for requests that start at different times; turn-taking is simple and always correct.)

Sampling uses a per-pane seeded torch.Generator (SeededSampler), so a seed reproduces a reply even
while other panes sample at the same time.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

from lab.chat.events import Event
from lab.chat.prompt import prepare
from lab.chat.registry import Registry, get_registry
from lab.chat.spec import ChatSpec
from lab.errors import LabError


def _generate(pane: int, handle, messages: list[dict], spec: ChatSpec, out: queue.Queue,
              stop: threading.Event) -> dict:
    from lab.chat.generation import PaneStreamer, StopOnEvent, sampler  # heavy: transformers, loaded on first use

    ids, max_new, notice = prepare(handle, messages, spec)
    if notice:
        out.put(Event(pane, "notice", notice))
    streamer = PaneStreamer(pane, handle, out)
    tok = handle.tokenizer
    with handle.turn() as model:
        ids = ids.to(model.device)
        model.generate(
            input_ids=ids, attention_mask=ids.new_ones(ids.shape), streamer=streamer, max_new_tokens=max_new,
            do_sample=False, repetition_penalty=spec.repetition_penalty, logits_processor=sampler(spec, ids.device),
            stopping_criteria=[StopOnEvent(stop)], pad_token_id=tok.pad_token_id or tok.eos_token_id,
            temperature=None, top_p=None, top_k=None)
    return {**streamer.stats(), "prompt_tokens": int(ids.shape[1]), "stopped": stop.is_set()}


def run_pane(pane: int, ref: str, messages: list[dict], spec: ChatSpec, out: queue.Queue,
             stop: threading.Event, registry: Registry, token=None) -> None:
    """Thread body: load (or reuse) the model, stream the reply; any failure ends as this pane's error."""
    t0 = time.perf_counter()
    handle = None
    try:
        handle = registry.acquire(ref, four_bit=spec.load_in_4bit, token=token)
        load_s = round(time.perf_counter() - t0, 3)
        if getattr(registry, "notice", ""):  # e.g. models unloaded from the GPU for a training job
            out.put(Event(pane, "notice", registry.notice))
        stats = _generate(pane, handle, messages, spec, out, stop)
        out.put(Event(pane, "done", stats={**stats, "load_s": load_s, "label": handle.label}))
    except LabError as exc:
        out.put(Event(pane, "error", str(exc)))
    except Exception as exc:  # a broken model must not take the other panes down
        out.put(Event(pane, "error", f"{type(exc).__name__}: {str(exc)[:500]}"))
    finally:
        if handle is not None:
            handle.release()


def stream_many(refs: list[str], messages: list[list[dict]], spec: ChatSpec, stop: threading.Event | None = None,
                registry: Registry | None = None, token=None) -> Iterator[list[Event]]:
    """Yield the events of every pane as they happen, in batches of what is already waiting (so a UI redraws
    once per batch, not once per token); ends when every pane is done or failed."""
    registry = registry or get_registry()
    stop = stop or threading.Event()
    out: queue.Queue = queue.Queue()
    for i, (ref, msgs) in enumerate(zip(refs, messages)):
        threading.Thread(target=run_pane, args=(i, ref, msgs, spec, out, stop, registry, token),
                         daemon=True, name=f"chat-pane-{i}").start()
    pending = len(refs)
    try:
        while pending:
            batch = [out.get()]
            while True:
                try:
                    batch.append(out.get_nowait())
                except queue.Empty:
                    break
            pending -= sum(ev.kind in ("done", "error") for ev in batch)
            yield batch
    finally:
        if pending:  # the consumer went away (tab closed, stop): end the generations
            stop.set()


@dataclass
class Reply:
    model: str
    text: str = ""
    error: str = ""
    notices: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


def collect(refs: list[str], messages: list[list[dict]], spec: ChatSpec, registry: Registry | None = None,
            token=None) -> list[Reply]:
    """Run every pane to the end (CLI, batch compare); one Reply per model, in order."""
    replies = [Reply(model=ref) for ref in refs]
    events = (ev for batch in stream_many(refs, messages, spec, registry=registry, token=token) for ev in batch)
    for ev in events:
        r = replies[ev.pane]
        if ev.kind == "delta":
            r.text += ev.text
        elif ev.kind == "notice":
            r.notices.append(ev.text)
        elif ev.kind == "error":
            r.error = ev.text
        else:
            r.stats = ev.stats
    return replies


# Stop buttons: one event per browser session, so Stop ends that session's replies only.
_stops: dict[str, threading.Event] = {}
_stops_lock = threading.Lock()


def new_stop(session: str) -> threading.Event:
    with _stops_lock:
        _stops[session] = threading.Event()
        return _stops[session]


def request_stop(session: str) -> bool:
    with _stops_lock:
        ev = _stops.get(session)
    if ev is not None:
        ev.set()
    return ev is not None


def forget_stop(session: str, ev: threading.Event) -> None:
    with _stops_lock:
        if _stops.get(session) is ev:
            del _stops[session]
