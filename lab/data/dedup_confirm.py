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
    """The shingle sets of some rows of `texts`, computed together on first use (prepare) and compared pairwise."""

    def __init__(self, texts: list[str], shingle: int = 2):
        self.texts, self.shingle = texts, shingle
        self._local: dict[int, int] = {}
        self._sets: dict[int, set] = {}
        self._offsets = self._keys = None

    def prepare(self, rows) -> None:
        """Compute the shingles of these rows (global indices into texts) in one vectorized pass."""
        rows = [int(r) for r in rows]
        self._local = {r: j for j, r in enumerate(rows)}
        self._sets = {}
        self._offsets, self._keys = _keys([self.texts[r] for r in rows], self.shingle)

    def _set(self, row: int) -> set:
        if row not in self._sets:
            if row not in self._local:  # a row prepare() did not name: compute it alone
                self._sets[row] = set(_keys([self.texts[row]], self.shingle)[1].tolist())
            else:
                j = self._local[row]
                self._sets[row] = set(self._keys[self._offsets[j]:self._offsets[j + 1]].tolist())
        return self._sets[row]

    def jaccard(self, a: int, b: int) -> float:
        """The true Jaccard similarity of rows a and b (global indices)."""
        sa, sb = self._set(a), self._set(b)
        both = len(sa & sb)
        return both / (len(sa) + len(sb) - both)


def true_jaccard(a: str, b: str, shingle: int = 2) -> float:
    """The true Jaccard similarity of two texts' word-shingle sets."""
    sets = ShingleSets([a, b], shingle)
    sets.prepare([0, 1])
    return sets.jaccard(0, 1)


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
