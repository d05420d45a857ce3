"""The transformers pieces of streaming (kept apart so importing the Chat tab does not import transformers)."""
from __future__ import annotations

import queue
import threading
import time

from transformers import LogitsProcessor, StoppingCriteria, TextStreamer
from transformers.generation.logits_process import TemperatureLogitsWarper, TopPLogitsWarper

from lab.chat.events import Event
from lab.chat.spec import ChatSpec


class StopOnEvent(StoppingCriteria):
    def __init__(self, stop: threading.Event):
        self.stop = stop

    def __call__(self, input_ids, scores, **kwargs):
        import torch  # heavy: torch

        return torch.full((input_ids.shape[0],), self.stop.is_set(), dtype=torch.bool, device=input_ids.device)


class SeededSampler(LogitsProcessor):
    """Temperature + top-p sampling with the pane's own generator; returns scores whose argmax is the draw."""

    def __init__(self, temperature: float, top_p: float, generator):
        self.warpers = [TemperatureLogitsWarper(temperature)] + ([TopPLogitsWarper(top_p)] if top_p < 1 else [])
        self.generator = generator

    def __call__(self, input_ids, scores):
        import torch  # heavy: torch

        for warp in self.warpers:
            scores = warp(input_ids, scores)
        probs = torch.softmax(scores.float(), dim=-1)
        pick = torch.multinomial(probs, 1, generator=self.generator)
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, pick, 0.0)


class PaneStreamer(TextStreamer):
    """Sends decoded text to the shared queue, times the reply, and yields the base's turn after each token."""

    def __init__(self, pane: int, handle, out: queue.Queue):
        super().__init__(handle.tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.pane, self.handle, self.out = pane, handle, out
        self.start = time.perf_counter()
        self.first = self.last = None
        self.tokens = 0

    def put(self, value):
        if self.next_tokens_are_prompt:
            return super().put(value)
        now = time.perf_counter()
        self.first = self.first or now
        self.last = now
        self.tokens += int(value.numel())
        super().put(value)
        self.handle.yield_turn()

    def on_finalized_text(self, text: str, stream_end: bool = False):
        if text:
            self.out.put(Event(self.pane, "delta", text))

    def stats(self) -> dict:
        ttft = (self.first - self.start) if self.first else None
        decode = (self.last - self.first) if self.first and self.tokens > 1 else 0.0
        return {"ttft_s": round(ttft, 4) if ttft is not None else None, "tokens": self.tokens,
                "tokens_per_s": round((self.tokens - 1) / decode, 2) if decode > 0 else None}


def sampler(spec: ChatSpec, device):
    import torch  # heavy: torch

    if not spec.sampling:
        return []
    gen = torch.Generator(device=device)
    gen.manual_seed(spec.seed) if spec.seed is not None else gen.seed()
    return [SeededSampler(spec.temperature, spec.top_p, gen)]
