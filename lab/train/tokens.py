"""Real (non-pad) tokens per step, counted on the CPU as each batch is collated.

transformers' own count (`include_num_input_tokens_seen`) sums the attention mask on the device and reads it back
with `.item()` for every micro-batch: a GPU sync per micro-batch. It also counts no token of a padding-free batch
that equals the pad token (SmolLM2's pad is its end-of-turn token). Here the collator's output is counted before it
leaves the CPU: the attention mask's ones, or every token of a padding-free batch (it has no padding).

The data loader runs the collator one batch ahead of the step that trains it, so counts wait in a queue and the
training callback takes one per micro-batch, in order. Evaluation batches go through the same collator: the
callback marks the queue when a step ends and drops what evaluation added.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Mapping

PAIRED = ("chosen_attention_mask", "rejected_attention_mask")


def real_tokens(batch) -> int | None:
    """Non-pad tokens of one collated batch; None when its shape says nothing (GRPO's prompts are a list)."""
    if not isinstance(batch, Mapping):
        return None
    mask = batch.get("attention_mask")
    if mask is not None and hasattr(mask, "sum"):
        return int(mask.sum())
    if "position_ids" in batch and hasattr(batch.get("input_ids"), "numel"):
        return int(batch["input_ids"].numel())  # padding-free: the rows end to end, nothing padded
    masks = [batch[k] for k in PAIRED if hasattr(batch.get(k), "sum")]
    if masks:
        return int(sum(m.sum() for m in masks))
    return None


class TokenCounter:
    """Wraps a data collator; `take()` gives the oldest collated batch's real tokens."""

    def __init__(self, collate):
        self.collate = collate
        self.pending: deque = deque()
        self._mark = 0

    def __call__(self, examples):
        batch = self.collate(examples)
        self.pending.append(real_tokens(batch))
        return batch

    def take(self) -> int | None:
        return self.pending.popleft() if self.pending else None

    def mark(self) -> None:
        """A step ended: what is queued now are training batches fetched ahead."""
        self._mark = len(self.pending)

    def drop_since_mark(self) -> None:
        """An evaluation ended: forget its batches."""
        while len(self.pending) > self._mark:
            self.pending.pop()
