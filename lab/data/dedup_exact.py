"""Exact dedup: rows whose key text is identical once case and whitespace are folded; the first one is kept."""
from __future__ import annotations

import numpy as np

from lab.data.normalize import fold


def exact_duplicates(texts: list[str]) -> np.ndarray:
    """For each row, the index of the earlier row it duplicates, or -1 when it is kept."""
    first: dict[str, int] = {}
    keeper = [first.setdefault(fold(t), i) for i, t in enumerate(texts)]
    keeper = np.asarray(keeper, dtype=np.int64)
    return np.where(keeper == np.arange(len(texts)), -1, keeper)
