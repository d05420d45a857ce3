"""What a streamed reply sends its pane: a piece of text, a notice, the end with its timings, or an error."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Event:
    pane: int
    kind: str  # "delta" | "notice" | "done" | "error"
    text: str = ""
    stats: dict = field(default_factory=dict)
