"""The first-run tour (issue 9): its wall time on this machine, against the issue's 5-minute limit.

No baseline: nothing outside the lab does this loop in one command. The lab side (bench/sides/tour_run.py) runs
`python -m lab tour` in a fresh LAB_HOME: the bundled model (converted once, untimed, by the setup), the demo
dataset, the filter, an SFT job, a SLERP merge job and a three-way chat. Full mode only: one tour takes a few
minutes, which the quick run's 10-minute budget for every suite has no room for.
"""
from __future__ import annotations

import os
from pathlib import Path

from bench.core import PYTHON, Pair, side

MODELS_DIR = Path(os.environ.get("LAB_TEST_CACHE", Path.home() / ".cache" / "lab-test")) / "models"
ENV = {"HF_HUB_OFFLINE": "1", "HF_HOME": "{tmp}/hf", "LAB_MODELS_DIR": str(MODELS_DIR), "LAB_HOME": "{tmp}/home",
       "TOKENIZERS_PARALLELISM": "false"}
CONVERT = [PYTHON, "-m", "lab", "models", "resolve", "HuggingFaceTB/SmolLM2-135M-Instruct"]


def pairs(quick: bool) -> list[Pair]:
    if quick:
        return []
    return [Pair("tour", side("sides/tour_run.py"), None, reps=2, quick_reps=1,
                 compare={"tour_s": "lower", "train_s": "lower", "merge_s": "lower", "chat_s": "lower"},
                 targets={"wall_s": 300}, env=ENV, setup=CONVERT, timeout_s=900,
                 note="`python -m lab tour`: demo dataset (75 rows, 13 planted) → filter → SFT LoRA 20 steps → "
                      "SLERP merge → base, fine-tune and merge answer 2 prompts; the issue allows 5 minutes.")]
