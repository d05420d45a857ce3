"""One generate() over a batch of requests (lab.serve.batcher): left padding with an attention mask (transformers
derives the position ids from the mask), and each row streamed to its own queue, ending on its own.

transformers' TextStreamer takes one row only, so each row keeps a TextStreamer of its own fed token by token: its
pieces are the very ones a lone reply streams (lab.chat.generation.PaneStreamer).
"""
from __future__ import annotations

import time
from types import SimpleNamespace

import torch
from transformers import StoppingCriteria, TextStreamer
from transformers.generation.streamers import BaseStreamer

from lab.chat.events import Event
from lab.chat.generation import sampler


class RowText(TextStreamer):
    """One row's decoded text, held back and flushed exactly as TextStreamer does, sent to the row's queue."""

    def __init__(self, tokenizer, out):
        super().__init__(tokenizer, skip_prompt=False, skip_special_tokens=True)
        self.out = out

    def on_finalized_text(self, text: str, stream_end: bool = False):
        if text:
            self.out.put(Event(0, "delta", text))


class Row:
    """One request inside a batch: its text, its token count and timings; `closed` once it has ended."""

    def __init__(self, req, tokenizer):
        self.req = req
        self.text = RowText(tokenizer, req.out)
        self.first = self.last = None
        self.tokens = 0
        self.closed = False

    def take(self, token: int, now: float, eos: set[int]) -> None:
        self.first = self.first or now
        self.last = now
        self.tokens += 1  # the end-of-sequence token counts, as in a lone reply
        self.text.put(torch.tensor([token]))
        if token in eos or self.tokens >= self.req.params.max_tokens or self.req.stop.is_set():
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.text.end()
        self.req.out.put(Event(0, "done", stats={**self.stats(), "prompt_tokens": int(self.req.ids.shape[1])}))

    def stats(self) -> dict:
        """As PaneStreamer.stats: time to the first token from the request's arrival, tokens/s after it."""
        ttft = (self.first - self.req.start) if self.first else None
        decode = (self.last - self.first) if self.first and self.tokens > 1 else 0.0
        return {"ttft_s": round(ttft, 4) if ttft is not None else None, "tokens": self.tokens,
                "tokens_per_s": round((self.tokens - 1) / decode, 2) if decode > 0 else None}


class BatchStreamer(BaseStreamer):
    """Hands each row its token of the step (none once it has ended) and yields the base's turn after each step."""

    def __init__(self, rows: list[Row], handle, eos: set[int]):
        self.rows, self.handle, self.eos = rows, handle, eos
        self.prompt = True

    def put(self, value):
        if self.prompt:  # generate() first puts the (padded) prompts
            self.prompt = False
            return
        now = time.perf_counter()
        for row, token in zip(self.rows, value.reshape(-1).tolist()):
            if not row.closed:
                row.take(token, now, self.eos)
        self.handle.yield_turn()

    def end(self):
        for row in self.rows:
            row.close()


class RowsDone(StoppingCriteria):
    """Per-row done flags: ended, at its own max_tokens, or stopped (a stop string hit, or its client gone)."""

    def __init__(self, rows: list[Row], prompt_len: int):
        self.rows, self.prompt_len = rows, prompt_len

    def __call__(self, input_ids, scores, **kwargs):
        made = input_ids.shape[1] - self.prompt_len
        done = [r.closed or made >= r.req.params.max_tokens or r.req.stop.is_set() for r in self.rows]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def _eos_ids(model) -> set[int]:
    eos = model.generation_config.eos_token_id
    return set(eos if isinstance(eos, list) else [] if eos is None else [eos])


def run_batch(model, reqs: list) -> None:
    """One generate() for `reqs` (one adapter, one way of drawing); call with the base's turn held and the adapter
    applied. Every row ends with a "done" event; on an exception the caller fails the rows."""
    handle = reqs[0].handle
    tok = handle.tokenizer
    pad = tok.pad_token_id or tok.eos_token_id
    longest = max(int(r.ids.shape[1]) for r in reqs)
    ids = torch.full((len(reqs), longest), pad, dtype=reqs[0].ids.dtype)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(reqs):  # left padding: every row's last prompt token in the last column
        n = int(r.ids.shape[1])
        ids[i, longest - n:] = r.ids[0]
        mask[i, longest - n:] = 1
    ids, mask = ids.to(model.device), mask.to(model.device)
    rows = [Row(r, tok) for r in reqs]
    p = reqs[0].params
    draw = SimpleNamespace(sampling=p.temperature > 0, temperature=p.temperature, top_p=p.top_p, seed=p.seed)
    model.generate(
        input_ids=ids, attention_mask=mask, streamer=BatchStreamer(rows, handle, _eos_ids(model)),
        max_new_tokens=max(r.params.max_tokens for r in reqs), do_sample=False, repetition_penalty=1.0,
        logits_processor=sampler(draw, ids.device), stopping_criteria=[RowsDone(rows, longest)],
        pad_token_id=pad, temperature=None, top_p=None, top_k=None)
    for row in rows:  # stopped between steps: the loop ended before the row saw another token
        row.close()
