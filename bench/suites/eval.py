"""Evaluate (issue 14): `python -m lab eval` against lm-eval's own CLI on the same model and task YAML, and the
lab's cached re-run.

The setup writes a 200-item multiple-choice task the way the lab does (its lm-eval YAML and data) and takes
lm-eval's own score on it (`lm_eval`, untimed) as the reference. Both timed sides report `score_diff`, the distance
of their accuracy from that reference: the parity pair fails unless the lab's is 0 (to 1e-6), whatever the times.
"""
from __future__ import annotations

import os
from pathlib import Path

from bench.core import Pair, side

MODELS_DIR = Path(os.environ.get("LAB_TEST_CACHE", Path.home() / ".cache" / "lab-test")) / "models"
ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": "{tmp}/hf", "LAB_MODELS_DIR": str(MODELS_DIR),
       "LAB_HOME": "{tmp}/home", "TOKENIZERS_PARALLELISM": "false", "OMP_WAIT_POLICY": "PASSIVE"}


def pairs(quick: bool) -> list[Pair]:
    return [
        Pair("eval_parity", side("sides/eval_run.py", "--no-cache"), side("baselines/lm_eval_cli.py"), reps=3,
             quick_reps=1, compare={"acc": "higher", "score_diff": "lower", "eval_s": "lower"},
             targets={"score_diff": 1e-6, "wall_ratio": 1.1, "wall_s": 60}, env=ENV,
             setup=side("sides/eval_setup.py", "{tmp}"), timeout_s=900,
             note="200-item multiple choice (one-digit sums, one-token choices) on SmolLM2-135M (fp32, batch 8, chat "
                  "template): `python -m lab eval "
                  "--no-cache` vs `lm_eval --model hf --include_path . --apply_chat_template` on the same YAML; "
                  "score_diff is each side's |acc - lm_eval's acc| (must be 0)."),
        Pair("eval_cached", side("sides/eval_run.py"), None, reps=5, quick_reps=3,
             compare={"acc": "higher", "score_diff": "lower", "eval_s": "lower"},
             targets={"wall_s": 2.0, "score_diff": 1e-6}, env=ENV, setup=side("sides/eval_setup.py", "{tmp}", "--warm"),
             timeout_s=900,
             note="The same `python -m lab eval` again: every result from the cache (model content hash, task hash, "
                  "settings); wall time of the whole process."),
    ]
