"""The few datatrove pieces the lab writes itself, where its semantics need them. Everything else in a datatrove
run is datatrove's own blocks (JsonlReader/Writer, the ExactDedup and MinhashDedup stages).

A document's text is its normalized row as JSON (so nothing is lost between passes), its id the row's index.
The key a step compares (prompt, answer or the whole sample) is computed from that row exactly as the
in-memory engine computes it (lab.data.normalize.row_text).
"""
import json

import numpy as np
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.utils.word_tokenizers import WordTokenizer

from lab.data.normalize import Table, fold, row_text
from lab.data.step_specs import make_step
from lab.data.steps import STEPS, Context


def key_text(doc, form: str, key: str) -> str:
    return row_text(json.loads(doc.text), form, key)


class KeyAsText(PipelineStep):
    """Before MinhashDedupSignature: the document's text becomes the key the step compares."""

    name = "🔑 the step's key"
    type = "🧪 - LAB"

    def __init__(self, form: str, key: str):
        super().__init__()
        self.form, self.key = form, key

    def run(self, data, rank: int = 0, world_size: int = 1):
        for doc in data:
            doc.text = key_text(doc, self.form, self.key) or " "  # an empty key still gets (no) shingles
            yield doc


class FoldedKey:
    """ExactDedupConfig's content_getter: the key, case and whitespace folded (the lab's exact-dedup key)."""

    def __init__(self, form: str, key: str):
        self.form, self.key = form, key

    def __call__(self, doc) -> bytes:  # bytes: datatrove's xxhash takes no str
        return fold(key_text(doc, self.form, self.key)).encode("utf-8")


class FirstShardFirst:
    """ExactDedupConfig's document_priority: of identical rows, the one from the earliest shard is kept (the
    shards are consecutive row ranges; within a shard datatrove keeps the earliest document)."""

    def __call__(self, doc) -> int:
        return 65535 - int(doc.metadata["shard"])


class LabWords(WordTokenizer):
    """MinHash shingles over the lab's words: the normalized text split on whitespace (no NLTK, no language)."""

    def word_tokenize(self, text: str) -> list[str]:
        return text.split()

    def sent_tokenize(self, text: str) -> list[str]:
        return [text]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(0, len(text))]


class LabRule(BaseFilter):
    """One of the lab's rule steps (refusals, length, regex, empty answers), run by the lab's own step function
    on each batch of documents, so a row is removed for exactly the reason the in-memory engine gives."""

    name = "🧪 lab rule"

    def __init__(self, step: dict, form: str, exclusion_writer=None, batch_size: int = 512):
        super().__init__(exclusion_writer, batch_size)
        self.step, self.form = step, form
        self._settings = None

    def filter(self, doc):
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch):
        if self._settings is None:
            self._settings = make_step(self.step["type"], **{k: v for k, v in self.step.items() if k != "type"})
        rows = [json.loads(doc.text) for doc in batch]
        table = Table(self.form, rows, [r.get("source", "") for r in rows])
        ctx = Context(table, np.arange(len(rows)), log=lambda m: None)
        outcome = STEPS[self.step["type"]](self._settings, ctx)
        return [(False, str(reason)) if gone else True for gone, reason in zip(outcome.remove, outcome.reasons)]
