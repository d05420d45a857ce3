"""The check behind fuzzy dedup's promise: the true Jaccard similarity of two rows' word-shingle sets.

MinHash only estimates the similarity, and LSH bands only propose candidate pairs, so a pair just under the
threshold can be proposed and estimated over it (with word pairs and 128 permutations the estimate's spread is
about ±0.04). Both engines therefore confirm each candidate pair by the exact similarity of the two shingle sets
before a row is dropped; only candidates are checked, so it stays cheap.

The shingles are the lab's own (lab.data.normalize.shingle_words, as the signatures use them): the words after
lowercasing and turning punctuation into spaces, `shingle` consecutive words each; a text shorter than that is one
shingle of all its words.
"""
from __future__ import annotations

import numpy as np

from lab.data.normalize import shingle_words

FEW_SHINGLES = 4  # a row with fewer shingles than this is short: one word moves its similarity by a lot
SHORT_SHARE = 0.5  # warn when more than this share of the rows is that short


def _keys(texts: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, keys): text i's shingles are keys[offsets[i]:offsets[i + 1]], equal keys for equal shingles."""
    import pyarrow.compute as pc  # heavy: pyarrow

    words, counts = shingle_words(texts)
    ids = pc.dictionary_encode(words).indices.to_numpy(zero_copy_only=False).astype(np.int64) + 1
    nsh = np.maximum(counts - n + 1, 1)
    starts = np.repeat(np.cumsum(counts) - counts, nsh)
    pos = starts + np.arange(int(nsh.sum())) - np.repeat(np.cumsum(nsh) - nsh, nsh)
    ends = np.repeat(np.cumsum(counts), nsh)
    cols = [np.where(pos + k < ends, ids[np.minimum(pos + k, len(ids) - 1)], 0) for k in range(n)]
    base = int(ids.max(initial=0)) + 1
    if base ** n < 2 ** 63:  # pack the word ids of a shingle into one exact integer
        key = np.zeros(len(pos), dtype=np.int64)
        for col in cols:
            key = key * base + col
    else:  # too many distinct words to pack: number the distinct shingles instead
        _, key = np.unique(np.stack(cols, axis=1), axis=0, return_inverse=True)
    return np.append(0, np.cumsum(nsh)), key.ravel()


class ShingleSets:
    """Rows' shingle sets, compared pairwise: row i's shingles are values[offsets[i]:offsets[i + 1]] (exact keys,
    or the fuzzy dedup's 64-bit fingerprints of each shingle's text: two different shingles share one with a
    chance of 2^-64), and `distinct[i]` how many differ (None: counted when needed). The set of the second row of
    a comparison (the kept one) is kept for the next comparisons, up to CACHE rows."""

    CACHE = 4096

    def __init__(self, offsets: np.ndarray, values: np.ndarray, distinct: np.ndarray | None = None):
        self.offsets, self.values, self.distinct = offsets, values, distinct
        self._sets: dict[int, set] = {}

    @classmethod
    def of_texts(cls, texts: list[str], shingle: int = 2) -> "ShingleSets":
        """The exact shingle sets of these texts (row i: texts[i])."""
        return cls(*_keys(texts, shingle))

    def _set(self, row: int) -> set:
        found = self._sets.get(row)
        if found is None:
            if len(self._sets) >= self.CACHE:
                self._sets.clear()
            found = self._sets[row] = set(self.values[self.offsets[row]:self.offsets[row + 1]].tolist())
        return found

    def jaccard(self, a: int, b: int) -> float:
        """The true Jaccard similarity of rows a and b (b: the row compared most often, e.g. the kept one)."""
        sb = self._set(b)
        shingles = self.values[self.offsets[a]:self.offsets[a + 1]].tolist()
        both = len(sb.intersection(shingles))
        size = len(set(shingles)) if self.distinct is None else int(self.distinct[a])
        return both / (size + len(sb) - both)


def true_jaccard(a: str, b: str, shingle: int = 2) -> float:
    """The true Jaccard similarity of two texts' word-shingle sets."""
    return ShingleSets.of_texts([a, b], shingle).jaccard(0, 1)


def short_rows(texts: list[str], shingle: int) -> float:
    """The share of texts with fewer than FEW_SHINGLES shingles (shingle + FEW_SHINGLES - 1 words)."""
    if not texts:
        return 0.0
    _, counts = shingle_words(texts)
    return float((np.asarray(counts) < shingle + FEW_SHINGLES - 1).mean())


def short_rows_warning(texts: list[str], shingle: int) -> str:
    """A warning when most texts are too short for near-duplicate verdicts to be reliable, else ""."""
    share = short_rows(texts, shingle)
    if share <= SHORT_SHARE:
        return ""
    return (f"{share:.0%} of the rows have fewer than {shingle + FEW_SHINGLES - 1} words (under {FEW_SHINGLES} "
            f"shingles of {shingle} words): on rows this short one word moves the similarity a lot, so near-"
            "duplicate verdicts on them are unreliable. Check the removed rows, or use exact or semantic dedup "
            "for such rows.")


def rejected_note(rejected: int, threshold: float) -> str:
    """The funnel's note of a fuzzy dedup step: how many candidate pairs the true-Jaccard check turned down."""
    return f"{rejected} candidate pair{'' if rejected == 1 else 's'} rejected: true Jaccard under {threshold:g}"
