"""Security (issue 21): a catastrophic regex costs the lab nothing, where Python's `re` freezes its process."""
from __future__ import annotations

from bench.core import Pair, side

A_COUNT = 24  # each further `a` doubles the time of Python's `re` (about 3 s here at 24)


def pairs(quick: bool) -> list[Pair]:
    return [
        Pair("redos", side("sides/redos.py", "lab", A_COUNT), side("sides/redos.py", "re", A_COUNT),
             reps=5, quick_reps=3, compare={"match_s": "lower"}, targets={"match_s": 1.0, "match_s_ratio": 0.1}, timeout_s=300,
             note=f"`(a+)+$` over a row of {A_COUNT} `a`s and a `!`: the lab's data pipeline (a regex step, on RE2) "
                  "against Python's `re` on the same row."),
    ]
