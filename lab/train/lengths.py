"""The dataset's real token lengths, through the run's chat template: what sizes a batch, not max_seq_length.

A batch is padded to its longest row, so the step that peaks is the one holding the longest rows the run sees.
A preference pair is as long as the longer of its two answers (chosen and rejected share one padded batch).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache

from lab.train.masking import apply_template

SAMPLE_ROWS = 2000  # rows tokenized to know the distribution (all of them in smaller datasets)
SUM_DRAWS = 4000  # batch sums drawn to size a padding-free batch


@dataclass(frozen=True)
class Lengths:
    sample: tuple[int, ...]  # untruncated token lengths of the sampled rows
    rows: int  # rows in the dataset
    measured: bool  # False when no tokenizer could be read (lengths from characters / 4)

    def clipped(self, max_len: int) -> list[int]:
        return sorted(min(n, max_len) for n in self.sample)

    def quantile(self, q: float, max_len: int | None = None) -> int:
        values = self.clipped(max_len) if max_len else sorted(self.sample)
        if not values:
            return 0
        return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]

    @property
    def p95(self) -> int:
        return self.quantile(0.95)

    def truncated_share(self, max_len: int) -> float:
        return sum(n > max_len for n in self.sample) / max(1, len(self.sample))

    def longest_batch(self, max_len: int, rows_seen: int) -> int:
        """The padded length of the longest batch a run that sees `rows_seen` rows is expected to meet: the
        longest row once it sees every row; else the length the longest of its rows stays under 9 times in 10."""
        if rows_seen >= self.rows:
            return self.quantile(1.0, max_len)
        return self.quantile(0.9 ** (1 / max(1, rows_seen)), max_len)

    def padding_free_batch(self, max_len: int, rows: int, rows_seen: int) -> int:
        """The tokens of the fullest padding-free batch (`rows` rows end to end, each cut at max_len) a run that sees
        `rows_seen` rows is expected to meet: by the same rule as longest_batch, over batch sums drawn from the
        sample (seeded, so the estimate is the same every time). Never more than the padded batch."""
        values = self.clipped(max_len)
        if len(values) <= rows:  # one batch holds every row
            return sum(values)
        rng = random.Random(0)
        sums = sorted(sum(rng.choice(values) for _ in range(rows)) for _ in range(SUM_DRAWS))
        batches = max(1, math.ceil(rows_seen / max(1, rows)))
        q = 1.0 if rows_seen >= self.rows and self.rows <= rows else 0.9 ** (1 / batches)
        top = sums[min(len(sums) - 1, max(0, math.ceil(q * len(sums)) - 1))]
        return min(top, rows * self.longest_batch(max_len, rows_seen))

    def summary(self, max_len: int) -> dict:
        return {"median": self.quantile(0.5), "p95": self.p95, "max": self.quantile(1.0),
                "truncated_pct": round(100 * self.truncated_share(max_len), 1), "rows": self.rows,
                "sampled": len(self.sample), "measured": self.measured}


def row_texts(row: dict, kind: str) -> list:
    """The texts (or conversations) a row of this kind puts in a batch (a method may say otherwise)."""
    if kind == "preference":
        return [row["prompt"] + row["chosen"], row["prompt"] + row["rejected"]]
    if kind == "text":
        return [row["text"]]
    if kind in ("prompts", "unpaired"):  # GRPO: the prompt (its answers are sampled); KTO: prompt + answer
        return [row["prompt"] + row.get("completion", [])]
    return [row["messages"]]


def measure(ds, kind: str, tokenizer, seed: int = 0, texts=row_texts) -> Lengths:
    """Token lengths of (a sample of) `ds` rows as the trainer will see them; `texts(row, kind)` says what a row
    becomes in a batch (the method's Method.length_texts)."""
    n = len(ds)
    idx = list(range(n)) if n <= SAMPLE_ROWS else sorted(random.Random(seed).sample(range(n), SAMPLE_ROWS))
    rows = ds.select(idx) if hasattr(ds, "select") else [ds[i] for i in idx]
    items = [texts(row, kind) for row in rows]
    flat = [x for group in items for x in group]
    sizes = iter(_lengths(flat, tokenizer))
    lengths = tuple(max(next(sizes) for _ in group) for group in items)
    return Lengths(lengths, n, tokenizer is not None)


def _lengths(items: list, tokenizer) -> list[int]:
    """One batched tokenizer call for all the texts (chat turns rendered through the template first)."""
    if tokenizer is None:
        return [max(1, len(_plain(x)) // 4 + (0 if isinstance(x, str) else 8 * len(x))) for x in items]
    texts = [x if isinstance(x, str) else tokenizer.apply_chat_template(x, tokenize=False) for x in items]
    special = [isinstance(x, str) for x in items]
    out = []
    for flag in (True, False):  # plain text gets BOS/EOS like the trainer adds; templates carry their own
        batch = [t for t, s in zip(texts, special) if s == flag]
        ids = tokenizer(batch, add_special_tokens=flag)["input_ids"] if batch else []
        out.append(iter(ids))
    return [len(next(out[0] if s else out[1])) for s in special]


def _plain(item) -> str:
    return item if isinstance(item, str) else " ".join(str(m.get("content", "")) for m in item)


@lru_cache(maxsize=8)
def _tokenizer(folder: str, template: str):
    from transformers import AutoTokenizer  # heavy: transformers

    tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    apply_template(tok, template)
    return tok


def tokenizer_for(folder, template: str):
    """The run's tokenizer with its chat template, or None when the folder has none (lengths are then estimated)."""
    try:
        return _tokenizer(str(folder), template)
    except Exception:  # noqa: BLE001 - no tokenizer files: fall back to characters / 4, said in the summary
        return None
