"""Results cached by (model content hash, task hash, settings): a re-run of a leaderboard recomputes nothing.

An entry is one model on one task: its scores, headline metric and samples. Items a judge could not score are
never cached: a task with any of them is recomputed next time.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from lab.settings import get_settings


def _root() -> Path:
    return get_settings().home / "cache" / "eval" / "results"


def key(model_hash: str, task_hash: str, settings: dict) -> str:
    text = json.dumps({"model": model_hash, "task": task_hash, "settings": settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def get(k: str) -> dict | None:
    path = _root() / f"{k}.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):  # a torn write: recompute
        return None


def put(k: str, entry: dict) -> bool:
    """Store an entry unless it holds unscored items; returns whether it was stored."""
    if entry.get("unscored"):
        return False
    root = _root()
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{k}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(entry, ensure_ascii=False))
    os.replace(tmp, root / f"{k}.json")
    return True
