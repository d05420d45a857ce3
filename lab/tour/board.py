"""What the tour shows while it runs: the stage list with states, the progress, the replies side by side.

Gradio-free, so the UI only copies these values into components (and a test can check them without a browser).
"""
from __future__ import annotations

from pathlib import Path

from lab.shown import scrub
from lab.tour.core import STAGES, TourEvent

ICONS = {"pending": "○", "running": "◔", "done": "✔", "failed": "✘"}  # in every common font, unlike emoji
COLUMNS = ["prompt", "base", "fine-tune", "merge"]


class Board:
    def __init__(self):
        self.states = {key: ("pending", "") for key, _, _ in STAGES}
        self.progress = 0.0
        self.message = ""
        self.artifacts: dict[str, str] = {}  # stage -> artifact folder
        self.replies: list[dict] = []
        self.scores: dict = {}  # model -> held-out exact match (the eval stage)
        self.summary: dict = {}

    def update(self, ev: TourEvent) -> "Board":
        self.progress, self.message = ev.progress, ev.message
        if ev.stage == "tour":
            self.summary = ev.data
            return self
        self.states[ev.stage] = (ev.state, ev.message)
        if ev.artifact:
            self.artifacts[ev.stage] = ev.artifact
        if ev.stage == "chat" and ev.state == "done":
            self.replies = ev.data.get("replies", [])
        if ev.stage == "eval" and ev.state == "done":
            self.scores = ev.data.get("scores", {})
        return self

    @property
    def finished(self) -> bool:
        return bool(self.summary)

    @property
    def ok(self) -> bool:
        return bool(self.summary.get("ok"))

    def markdown(self) -> str:
        lines = []
        for key, label, _ in STAGES:
            state, message = self.states[key]
            where = f" · `{Path(self.artifacts[key]).name}`" if key in self.artifacts else ""  # its name, not its path
            lines.append(f"{ICONS[state]} **{label}**" + (f": {message}" if message else "") + where)
        if self.summary:
            lines.append(("**" if self.ok else "**✘ ") + self.summary.get("message", "") + "**")
        return scrub("\n\n".join(lines))  # on a Space: no server path in a stage's message

    def table(self) -> list[list[str]]:
        rows = [[r.get(c, "") for c in COLUMNS] for r in self.replies]
        if self.scores:  # the eval stage's verdict under the replies
            rows.append(["Exact match on held-out questions"] +
                        [f"{v:.2f}" if v is not None else "failed" for v in (self.scores.get(c) for c in COLUMNS[1:])])
        return rows
