"""Semantic dedup: rows whose embeddings have cosine similarity at or above a threshold with an earlier kept row.

The all-pairs search runs in numpy blocks (10k × 384 takes well under a second); the cost is the encoding,
which embed.py caches by text hash.
"""
from __future__ import annotations

import numpy as np

BLOCK_FLOATS = 1 << 24  # one similarity block: 64 MB of float32


def _pairs(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (i, j, cosine) with j < i and cosine >= threshold, ordered by i."""
    n = len(vectors)
    block = max(1, min(n, BLOCK_FLOATS // max(n, 1)))
    rows, cols, sims = [], [], []
    for s in range(0, n, block):
        e = min(n, s + block)
        sim = vectors[s:e] @ vectors[:e].T
        hit = sim >= threshold
        hit &= np.arange(e)[None, :] < np.arange(s, e)[:, None]  # earlier rows only
        r, c = np.nonzero(hit)
        rows.append(r + s)
        cols.append(c)
        sims.append(sim[r, c])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(sims)


def semantic_duplicates(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(dup_of, cosine): the earlier kept row each row duplicates (-1: kept), scanning rows in order."""
    n = len(vectors)
    dup_of, similarity = np.full(n, -1, dtype=np.int64), np.zeros(n)
    if n < 2:
        return dup_of, similarity
    rows, cols, sims = _pairs(np.asarray(vectors, dtype=np.float32), threshold)
    kept = np.ones(n, dtype=bool)
    bounds = np.searchsorted(rows, np.arange(n + 1))
    for i in np.unique(rows).tolist():
        js, ss = cols[bounds[i]:bounds[i + 1]], sims[bounds[i]:bounds[i + 1]]
        live = kept[js]
        if live.any():
            best = int(np.argmax(np.where(live, ss, -np.inf)))
            kept[i], dup_of[i], similarity[i] = False, js[best], ss[best]
    return dup_of, similarity
