"""Ready-made starting points for the Data tab, each loadable in one click: the tour's demo SFT set (written by the
lab, no download), and on a Space a few well-known Hub datasets, read with the visitor's own token and, like any
Hub source, within the demo's row cap (lab.data.policy).

A starting point becomes a `lab.data.recipe.Source`: the demo set is kept as an upload of the caller's
(`upload:HASH/NAME`), so it is theirs to read like a file they uploaded; a Hub one names its id, split and row cap.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from lab import uploads
from lab.access import Caller
from lab.data.recipe import Source
from lab.errors import LabError
from lab.tour.demo_data import write_demo

HUB_ROWS = 1000  # what one click reads of a Hub dataset: enough to filter and train on, under the demo's cap


@dataclass(frozen=True)
class Starter:
    key: str
    label: str
    note: str
    hub: str = ""
    config: str = ""
    split: str = "train"

    def source(self, caller: Caller) -> Source:
        if self.hub:
            return Source(hub=self.hub, config=self.config, split=self.split, limit=HUB_ROWS)
        with tempfile.TemporaryDirectory(prefix="lab-starter-") as tmp:
            path, _ = write_demo(Path(tmp))
            kept = uploads.store(path, caller.key)
        return Source(path=uploads.ref(kept), name="tour demo set")


DEMO = [Starter("tour", "The tour's demo set", "Alpaca-style SFT rows (arithmetic, capitals, opposites, units, "
                "plurals) with planted duplicates and refusals for the filters to catch.")]
HUB = [
    Starter("alpaca", "Alpaca", "52k instructions and answers (SFT).", hub="tatsu-lab/alpaca"),
    Starter("ultrafeedback", "UltraFeedback binarized", "Prompts with a chosen and a rejected answer (DPO).",
            hub="HuggingFaceH4/ultrafeedback_binarized", split="train_prefs"),
    Starter("capybara", "Capybara", "Multi-turn conversations (SFT).", hub="trl-lib/Capybara"),
    Starter("no_robots", "No Robots", "10k instructions written by people (SFT).", hub="HuggingFaceH4/no_robots"),
]


def starters(on_space: bool) -> list[Starter]:
    """The starting points to offer: the demo set everywhere, the Hub ones on a Space."""
    return DEMO + (HUB if on_space else [])


def starter(key: str, on_space: bool) -> Starter:
    found = {s.key: s for s in starters(on_space)}.get(str(key or ""))
    if found is None:
        names = ", ".join(s.label for s in starters(on_space))
        raise LabError(f"No starting point {str(key)[:60]!r}.", f"Pick one of: {names}.", "starting point")
    return found


def describe(on_space: bool) -> str:
    """The starting points as a short list (Markdown), with the row cap of the Hub ones."""
    lines = [f"- **{s.label}**" + (f" (`{s.hub}`, first {HUB_ROWS:,} rows)" if s.hub else "") + f": {s.note}"
             for s in starters(on_space)]
    return "\n".join(lines)
