"""The few datatrove pieces the lab writes itself, where its semantics need them. Everything else in a datatrove
run is datatrove's own blocks (JsonlReader/Writer, the ExactDedup and MinhashDedup stages).

A document's text is its normalized row as JSON (so nothing is lost between passes), its id the row's index.
The key a step compares (prompt, answer or the whole sample) is computed from that row exactly as the
in-memory engine computes it (lab.data.normalize.row_text).
"""
import json

import numpy as np
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import SENTINEL
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.utils.word_tokenizers import WordTokenizer

from lab.data.dedup_confirm import ShingleSets, rejected_note, short_rows_warning
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


class KeepKeyTexts(PipelineStep):
    """Between KeyAsText and MinhashDedupSignature: each document's key text, one JSON line per document in the
    order the signature stage numbers them, so ConfirmPairs can read back the two texts of a candidate pair."""

    name = "📝 the keys, for the check"
    type = "🧪 - LAB"

    def __init__(self, folder: str):
        super().__init__()
        self.folder = get_datafolder(folder)

    def run(self, data, rank: int = 0, world_size: int = 1):
        with self.folder.open(f"{rank:05d}.jsonl", "wt", encoding="utf-8") as f:
            for doc in data:
                f.write(json.dumps(doc.text, ensure_ascii=False) + "\n")
                yield doc


class ConfirmPairs(PipelineStep):
    """Between MinhashDedupBuckets and MinhashDedupCluster (one task): every candidate pair the LSH buckets wrote
    is kept only when the true Jaccard of its two shingle sets reaches the threshold (lab.data.dedup_confirm).
    Writes the confirmed pairs under the same .dups names, and stats.json: the pairs checked and rejected, and the
    short-rows warning."""

    name = "✅ confirm candidate pairs"
    type = "🧪 - LAB"
    SAMPLE = 10_000  # rows read for the short-rows share

    def __init__(self, pairs: str, texts: str, output: str, threshold: float, shingle: int):
        super().__init__()
        self.pairs, self.texts, self.output = (get_datafolder(x) for x in (pairs, texts, output))
        self.threshold, self.shingle = threshold, shingle

    def _texts(self, wanted: set) -> tuple[dict, list[str]]:
        """{(rank, doc): text} of the wanted documents, and an even sample of every text for the short share."""
        found, sample, files = {}, [], sorted(self.texts.list_files(glob_pattern="*.jsonl"))
        for name in files:
            rank = int(name.split(".")[0])
            with self.texts.open(name, "rt", encoding="utf-8") as f:
                for doc, line in enumerate(f):
                    if (rank, doc) in wanted:
                        found[(rank, doc)] = json.loads(line)
                    if len(sample) < self.SAMPLE:
                        sample.append(json.loads(line))
        return found, sample

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        names = sorted(self.pairs.list_files(glob_pattern="*.dups"))
        tables = {}
        for name in names:
            with self.pairs.open(name, "rb") as f:
                tables[name] = np.frombuffer(f.read(), dtype="<u4").reshape(-1, 4)
        every = np.concatenate(list(tables.values()) or [np.empty((0, 4), dtype="<u4")])
        every = every[every[:, 0] != SENTINEL]  # matches against an index are not the lab's (it writes none)
        wanted = {(int(f), int(d)) for f, d in np.concatenate([every[:, :2], every[:, 2:]]).tolist()}
        found, sample = self._texts(wanted)
        order = sorted(found)
        sets = ShingleSets.of_texts([found[k] for k in order], self.shingle)
        at = {k: i for i, k in enumerate(order)}
        verdict = {}
        for f1, d1, f2, d2 in every.tolist():
            pair = tuple(sorted(((f1, d1), (f2, d2))))
            if pair not in verdict:
                verdict[pair] = sets.jaccard(at[pair[0]], at[pair[1]]) >= self.threshold
        for name, table in tables.items():
            keep = [r[0] == SENTINEL or verdict[tuple(sorted(((r[0], r[1]), (r[2], r[3]))))] for r in table.tolist()]
            with self.output.open(name, "wb") as f:
                f.write(np.ascontiguousarray(table[np.array(keep, dtype=bool)] if len(table) else table).tobytes())
        rejected = sum(not ok for ok in verdict.values())
        stats = {"candidates": len(verdict), "rejected": rejected, "note": rejected_note(rejected, self.threshold),
                 "warning": short_rows_warning(sample, self.shingle)}
        with self.output.open("stats.json", "wt", encoding="utf-8") as f:
            json.dump(stats, f)


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
