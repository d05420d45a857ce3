"""Fuzzy dedup: MinHash signatures computed in numpy batches, LSH banding, and a kept-set scan.

Signatures are bit-identical to datasketch's (same permutation parameters from MinHash(num_perm, seed), same
sha1_hash32 of each shingle's UTF-8 bytes, same affine32 scheme): a shingle loop with MinHash.update gives the
same arrays. Speed comes from three things: words are tokenized and dictionary-encoded in pyarrow, each
distinct shingle of a batch is hashed once, and the permutations run as (num_perm, shingles) uint32 arrays
reduced per row along the contiguous axis. Rows go through in batches, so memory stays bounded (the
signatures themselves are n × num_perm × 4 bytes: 512 MB for a million rows; the check below keeps a 64-bit
fingerprint of each shingle, 8 bytes per word of text).

Duplicates follow datasketch's own recipe, in order, with one check more: a row is a duplicate when an earlier
*kept* row shares an LSH bucket with it, their estimated Jaccard similarity reaches the threshold, and so does the
true Jaccard similarity of their shingle sets (lab.data.dedup_confirm); otherwise it is kept.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from lab.data.dedup_confirm import ShingleSets
from lab.data.normalize import shingle_words
from lab.errors import LabError

BATCH_ROWS = 20_000
CHUNK_SHINGLES = 1 << 14  # (num_perm × chunk) uint32 = 8 MB at 128 permutations: cache-sized


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters for MinHash(num_perm, seed): odd a, any b, from RandomState.
    Computed here because importing datasketch (it pulls scipy) costs about a second per run."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) as datasketch's MinHashLSH picks them: the (b, r) with b·r ≤ num_perm minimising
    the false-positive plus false-negative area. The integrands are polynomials of degree b·r, which
    Gauss-Legendre with num_perm/2 + 1 nodes integrates exactly, so no adaptive quadrature is needed."""
    pairs = np.array([(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)], dtype=float)
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def area(lo: float, hi: float, false_positive: bool) -> np.ndarray:
        s = (hi - lo) / 2 * nodes + (hi + lo) / 2
        hit = 1 - (1 - s[None, :] ** pairs[:, 1:2]) ** pairs[:, 0:1]  # P(share a bucket) at similarity s
        return ((hit if false_positive else 1 - hit) * weights).sum(axis=1) * (hi - lo) / 2

    error = 0.5 * area(0.0, threshold, True) + 0.5 * area(threshold, 1.0, False)
    bands, rows = (int(x) for x in pairs[int(np.argmin(error))])
    if bands < 2:
        raise LabError(f"MinHash LSH cannot work at threshold {threshold} with {num_perm} permutations (fewer than "
                       "2 bands).", "Lower the threshold or raise the number of permutations.",
                       "fuzzy_dedup.threshold")
    return bands, rows


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (datasketch's pre-mix of each hash before the affine permutations)."""
    h = h.astype(np.uint32, copy=True)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def _shingle_keys(ids: np.ndarray, counts: np.ndarray, n: int):
    """Per shingle: its first word position, its width in words and an exact integer key."""
    nsh = np.maximum(counts - n + 1, 1)
    starts = np.cumsum(counts) - counts
    sh_off = np.cumsum(nsh) - nsh
    total = int(nsh.sum())
    pos = np.repeat(starts - sh_off, nsh) + np.arange(total)
    width = np.repeat(np.minimum(counts, n), nsh)
    base = int(ids.max(initial=0)) + 2
    if counts.min(initial=n) >= n:  # every text has a full shingle: no padding needed
        cols = [ids[pos + k] + 1 for k in range(n)]
    else:
        cols = [np.where(k < width, ids[np.minimum(pos + k, len(ids) - 1)] + 1, 0) for k in range(n)]
    if base ** n < 2 ** 63:
        key = np.zeros(total, dtype=np.int64)
        for col in cols:
            key = key * base + col
    else:  # too many distinct words to pack exactly: compare the id tuples as bytes
        stacked = np.ascontiguousarray(np.stack(cols, axis=1).astype(np.int32))
        key = stacked.view(np.dtype((np.void, 4 * n))).ravel()
    return pos, width, key, sh_off


def _shingle_hashes(words, ids, pos, width, n: int) -> tuple[np.ndarray, np.ndarray]:
    """sha1_hash32 of each given shingle ("w1 w2 ..." in UTF-8), fmix-ed as datasketch's affine32 does, and a
    64-bit fingerprint of it from the same digest (the next 8 bytes: what the true-Jaccard check compares)."""
    import pyarrow as pa  # heavy: pyarrow
    import pyarrow.compute as pc  # heavy: pyarrow

    cols = []
    for k in range(n):
        valid = k < width
        taken = pc.take(words, pa.array(np.where(valid, ids[np.minimum(pos + k, len(ids) - 1)], 0)))
        cols.append(pc.if_else(pa.array(valid), taken, pa.scalar(None, taken.type)))
    text = cols[0] if n == 1 else pc.binary_join_element_wise(*cols, pa.scalar(" ", taken.type), null_handling="skip")
    data = text.cast(pa.large_binary()).to_pylist()
    digests = np.frombuffer(b"".join([hashlib.sha1(s).digest() for s in data]), dtype=np.uint8).reshape(-1, 20)
    prints = np.ascontiguousarray(digests[:, 4:12]).view("<u8").ravel()
    return _fmix32(np.ascontiguousarray(digests[:, :4]).view("<u4").ravel()), prints


def _distinct(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first position of each distinct key, index of each key's distinct value): a hash-based unique."""
    import pyarrow as pa  # heavy: pyarrow
    import pyarrow.compute as pc  # heavy: pyarrow

    if key.dtype.kind == "V":
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        return first, inverse.ravel()
    inverse = pc.dictionary_encode(pa.array(key)).indices.to_numpy(zero_copy_only=False)
    first = np.empty(int(inverse.max(initial=-1)) + 1, dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(key) - 1, -1, -1)
    return first, inverse


def _batch(texts: list[str], n: int, a: np.ndarray, b: np.ndarray, out: np.ndarray, prints: list) -> None:
    """The batch's signatures into out; each row's shingle fingerprints appended to prints (when not None)."""
    import pyarrow.compute as pc  # heavy: pyarrow

    words, counts = shingle_words(texts)
    encoded = pc.dictionary_encode(words)
    ids = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    pos, width, key, sh_off = _shingle_keys(ids, counts, n)
    first, inverse = _distinct(key)
    hashes, fingerprints = _shingle_hashes(encoded.dictionary, ids, pos[first], width[first], n)
    hashes = hashes[inverse]
    bounds = np.append(sh_off, len(hashes))  # row i's shingles are bounds[i]:bounds[i + 1]
    if prints is not None:  # each row's fingerprints and how many of them differ
        pairs = np.sort(np.repeat(np.arange(len(texts)), np.diff(bounds)) * len(first) + inverse)  # (row, shingle)
        pairs = pairs[np.append(True, pairs[1:] != pairs[:-1])]  # each row's distinct shingles (a sort: far faster
        prints.append((np.diff(bounds), fingerprints[inverse],  # than np.unique's hash table here)
                       np.bincount(pairs // len(first), minlength=len(texts))))
    buf = np.empty((len(a), CHUNK_SHINGLES), dtype=np.uint32)  # small enough to stay in cache: far faster
    row, rows = 0, len(texts)
    while row < rows:  # as many rows as fit in the buffer (at least one)
        end = int(np.searchsorted(bounds, bounds[row] + CHUNK_SHINGLES, side="right")) - 1
        end = min(max(end, row + 1), rows)
        lo, hi = bounds[row], bounds[end]
        phv = buf[:, :hi - lo] if hi - lo <= CHUNK_SHINGLES else np.empty((len(a), hi - lo), dtype=np.uint32)
        np.multiply(a[:, None], hashes[None, lo:hi], out=phv)
        phv += b[:, None]
        out[row:end] = np.minimum.reduceat(phv, bounds[row:end] - lo, axis=1).T
        row = end


def signatures(texts: list[str], shingle: int = 2, num_perm: int = 128, seed: int = 1, progress=None,
               prints: list | None = None) -> np.ndarray:
    """(len(texts), num_perm) uint32 MinHash signatures, identical to datasketch's MinHash over word shingles.
    With a list as `prints`, each batch's (shingles per row, their 64-bit fingerprints) are appended to it."""
    a, b = permutations(num_perm, seed)
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    for start in range(0, len(texts), BATCH_ROWS):
        _batch(texts[start:start + BATCH_ROWS], shingle, a, b, out[start:start + BATCH_ROWS], prints)
        if progress:
            progress(min(1.0, (start + BATCH_ROWS) / max(1, len(texts))))
    return out


def _band_groups(band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each distinct band value, group of each row): exact, via a 64-bit hash checked for
    collisions (a collision, astronomically rare, falls back to comparing the bytes)."""
    h = np.zeros(len(band), dtype=np.uint64)
    for j in range(band.shape[1]):
        h ^= band[:, j].astype(np.uint64)
        h *= np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
    first, inverse = _distinct(h)
    if not (band == band[first[inverse]]).all():
        flat = np.ascontiguousarray(band).view(np.dtype((np.void, band.dtype.itemsize * band.shape[1]))).ravel()
        first, inverse = _distinct(flat)
    return first, inverse


def _buckets(sig: np.ndarray, bands: int, rows_per_band: int) -> tuple[np.ndarray, np.ndarray]:
    """(bucket id, first row of that bucket), each (n, bands); ids are unique across bands."""
    n = len(sig)
    ids, first = np.empty((n, bands), dtype=np.int64), np.empty((n, bands), dtype=np.int64)
    for i in range(bands):
        index, inverse = _band_groups(sig[:, i * rows_per_band:(i + 1) * rows_per_band])
        ids[:, i] = inverse + i * n
        first[:, i] = index[inverse]
    return ids, first


def _similarity(sig: np.ndarray, rows: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of each row with its partner, as MinHash.jaccard computes it."""
    out = np.empty(len(rows))
    for s in range(0, len(rows), 8192):
        eq = sig[rows[s:s + 8192]] == sig[others[s:s + 8192]]
        out[s:s + 8192] = np.count_nonzero(eq, axis=1) / np.float64(sig.shape[1])
    return out


def near_duplicates(sig: np.ndarray, threshold: float,
                    shingles: ShingleSets | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """(dup_of, similarity, rejected): the kept row each row duplicates (-1: kept), their similarity, and how many
    candidate pairs the true-Jaccard check turned down.

    Same outcome as querying a datasketch MinHashLSH of the kept rows row by row, verifying candidates with
    MinHash.jaccard and inserting the row when none reaches the threshold. With `shingles` (the rows' shingle
    sets), a candidate whose estimate reaches the threshold must also reach it by the true Jaccard of the two
    sets before the row is dropped; `similarity` is then the true one. Fast path: when the earliest row sharing a
    bucket is kept and similar enough, the row is a duplicate without any lookup.
    """
    n, num_perm = sig.shape
    dup_of, similarity = np.full(n, -1, dtype=np.int64), np.zeros(n)
    if n < 2:
        return dup_of, similarity, 0
    bands, r = lsh_params(threshold, num_perm)
    ids, first = _buckets(sig, bands, r)
    rows = np.arange(n)
    mate = np.where(first < rows[:, None], first, n).min(axis=1)
    todo = np.flatnonzero(mate < n)  # rows that share a bucket with an earlier row
    mate_sim = _similarity(sig, todo, mate[todo])
    members = np.argsort(ids.ravel(), kind="stable")  # rows of each bucket, ascending
    starts = np.searchsorted(ids.ravel()[members], np.arange(bands * n + 1))
    members //= bands
    confirm = shingles.jaccard if shingles is not None else (lambda i, k: 1.0)
    kept, rejected = np.ones(n, dtype=bool), 0
    for i, m, s in zip(todo.tolist(), mate[todo].tolist(), mate_sim.tolist()):
        tried = -1
        if kept[m] and s >= threshold:
            true = confirm(i, m)
            if true >= threshold:
                kept[i], dup_of[i], similarity[i] = False, m, (s if shingles is None else true)
                continue
            rejected, tried = rejected + 1, m
        cands = np.unique(np.concatenate([members[starts[k]:starts[k + 1]] for k in ids[i]]))
        cands = cands[(cands < i) & kept[cands] & (cands != tried)]
        if not len(cands):
            continue
        sims = np.count_nonzero(sig[cands] == sig[i], axis=1) / np.float64(num_perm)
        for j in np.argsort(-sims, kind="stable").tolist():  # the most similar first
            if sims[j] < threshold:
                break
            true = confirm(i, int(cands[j]))
            if true >= threshold:
                kept[i], dup_of[i], similarity[i] = False, cands[j], (sims[j] if shingles is None else true)
                break
            rejected += 1
    return dup_of, similarity, rejected


def fuzzy_duplicates(texts: list[str], threshold: float = 0.6, shingle: int = 2, num_perm: int = 128,
                     seed: int = 1, progress=None, confirm: bool = True) -> tuple[np.ndarray, np.ndarray, int]:
    """(dup_of, similarity, rejected) of near_duplicates, each candidate confirmed by its true Jaccard unless
    `confirm` is False (the estimate alone, datasketch's recipe)."""
    lsh_params(threshold, num_perm)  # fail before the work when the settings cannot work
    prints = [] if confirm else None
    sig = signatures(texts, shingle, num_perm, seed, progress, prints)
    if not confirm:
        return near_duplicates(sig, threshold)
    counts, values, distinct = (np.concatenate([p[k] for p in prints] or [np.zeros(0, dtype=np.int64)])
                                for k in range(3))
    sets = ShingleSets(np.append(0, np.cumsum(counts)), values, distinct)
    return near_duplicates(sig, threshold, sets)
