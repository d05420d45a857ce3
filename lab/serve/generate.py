"""One request's reply: its input ids, its stop strings, and its pieces of text as its batch (lab.serve.batcher)
streams them.

A batch holds the base's fair turn with its adapter applied for each step, and yields the turn after it
(lab.chat.loaded.Handle), so every forward pass on a base runs exactly one adapter: requests for different
adapters are never computed together, and never with another request's adapter.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Iterator

from lab.chat.prompt import render
from lab.serve.requests import ApiError


@dataclass
class Params:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)


def encode(handle, messages: list[dict] | None = None, prompt: str | None = None, max_tokens: int = 0):
    """Input ids: messages in the model's own chat template, or a raw prompt; a 400 when it cannot fit."""
    tok = handle.tokenizer
    if messages is not None:
        ids = tok(render(tok, messages), return_tensors="pt", add_special_tokens=False).input_ids
        what = "messages"
    else:
        ids = tok(prompt or "", return_tensors="pt").input_ids
        what = "prompt"
    n, ctx = int(ids.shape[1]), handle.entry.context
    if n == 0:
        raise ApiError(400, f"{what} is empty.", what)
    if n + max_tokens > ctx:
        raise ApiError(400, f"The {what} take {n} tokens; with max_tokens {max_tokens} that is over the model's "
                       f"context of {ctx}.", "max_tokens", {"limit": max(0, ctx - n)})
    return ids


class StopMatcher:
    """Cuts the text at the first stop string, holding back a tail that may be the start of one."""

    def __init__(self, stops: list[str]):
        self.stops = [s for s in stops if s]
        self.buf = ""
        self.hit = False

    def feed(self, text: str) -> str:
        self.buf += text
        cuts = [self.buf.find(s) for s in self.stops if s in self.buf]
        if cuts:
            out, self.buf, self.hit = self.buf[: min(cuts)], "", True
            return out
        hold = next((k for k in range(min(len(self.buf), max((len(s) for s in self.stops), default=1) - 1), 0, -1)
                     if any(s.startswith(self.buf[-k:]) for s in self.stops)), 0)
        out, self.buf = self.buf[: len(self.buf) - hold], self.buf[len(self.buf) - hold:]
        return out

    def flush(self) -> str:
        out, self.buf = self.buf, ""
        return out


def stream(batcher, handle, ids, params: Params) -> Iterator[tuple[str, dict | None]]:
    """(text, None) pieces as they come, then ("", final) with finish_reason and usage. Owns `handle`: it is
    released when the request's batch ends (lab.serve.batcher). Closing the iterator (a client gone) ends its row."""
    req = batcher.submit(handle, ids, params)
    return _pieces(req.out, req.stop, params)


def _pieces(out: queue.Queue, stop: threading.Event, params: Params) -> Iterator[tuple[str, dict | None]]:
    matcher = StopMatcher(params.stop)
    try:
        while True:
            ev = out.get()
            if ev.kind == "delta" and not matcher.hit:
                text = matcher.feed(ev.text)
                if matcher.hit:
                    stop.set()
                if text:
                    yield text, None
            elif ev.kind == "error":
                raise ApiError(500, f"Generation failed: {ev.text}")
            elif ev.kind == "done":
                tail = "" if matcher.hit else matcher.flush()
                if tail:
                    yield tail, None
                s = ev.stats
                done = s.get("tokens", 0)
                reason = "length" if done >= params.max_tokens and not matcher.hit else "stop"
                yield "", {"finish_reason": reason, "usage": {
                    "prompt_tokens": s["prompt_tokens"], "completion_tokens": done,
                    "total_tokens": s["prompt_tokens"] + done}, "ttft_s": s.get("ttft_s"),
                    "tokens_per_s": s.get("tokens_per_s")}
                return
    finally:
        stop.set()
