"""Small text helpers shared by the CLI and the UI (no gradio here)."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def log_tail(path: Path, lines: int = 40, max_bytes: int = 64_000) -> str:
    """The last lines of a log, reading at most max_bytes from its end."""
    path = Path(path)
    if not path.is_file():
        return ""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - max_bytes))
        text = f.read().decode("utf-8", errors="replace")
    # progress bars redraw with \r; keep the last redraw of each line
    out = [ln.rsplit("\r", 1)[-1] for ln in text.splitlines()]
    return "\n".join(out[-lines:])


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def print_json(obj) -> None:
    """What every CLI command prints on stdout: one indented JSON document."""
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()
