"""Merge (issue 7): the lab's merge against `mergekit-yaml` on the same config, and preflight from the Hub.

Both merge sides read one YAML written by the setup (the bundled SmolLM2 + a seeded-noise "fine-tune" of it) and
delete their output afterwards. The lab side submits the merge job and waits (`python -m lab merge CONFIG --out DIR
--job`): a worker process runs checks, preflight, resolve, run_merge, card, lineage and the final rename.
Full mode adds the in-process CLI (the same merge function without the job around it).
"""
from __future__ import annotations

import os
from pathlib import Path

from bench.core import BASELINES, PYTHON, Pair, side

MODELS_DIR = Path(os.environ.get("LAB_TEST_CACHE", Path.home() / ".cache" / "lab-test")) / "models"
BUNDLED = MODELS_DIR / "HuggingFaceTB--SmolLM2-135M-Instruct"


def _merge_pair(method: str, quick_reps: int, job: bool = True) -> Pair:
    cfg = f"{{tmp}}/{method}.yml"
    env = {"LAB_MODELS_DIR": str(MODELS_DIR), "LAB_HOME": "{tmp}/home", "HF_HOME": "{tmp}/hf",
           "HF_HUB_OFFLINE": "1"}
    how = "`python -m lab merge CONFIG --out DIR --job` (submit the merge job, worker process, wait)" if job \
        else "`python -m lab merge CONFIG --out DIR` (the job's merge function, in-process)"
    return Pair(f"merge_{method}" + ("" if job else "_cli"),
                side("sides/merge_run.py", cfg, *(["--job"] if job else [])),
                ["bash", str(BASELINES / "mergekit_cli.sh"), cfg],
                reps=5, quick_reps=quick_reps, compare={"merge_s": "lower"},
                targets={"wall_ratio": 1.05, "rss_ratio": 1.10}, env=env,
                setup=side("sides/merge_setup.py", "{tmp}"), timeout_s=600,
                note=f"{method} of SmolLM2-135M and a fine-tune of it (bf16, 30 layers): {how} vs "
                     f"`mergekit-yaml CONFIG DIR`, same YAML; outputs deleted after each run.")


def pairs(quick: bool) -> list[Pair]:
    merges = [_merge_pair("slerp", 2), _merge_pair("ties", 1)]
    if not quick:  # the in-process CLI path too (the quick run's 10-minute budget has no room for it)
        merges.append(_merge_pair("slerp", 2, job=False))
    return merges + [
        Pair("merge_preflight_hub", side("sides/merge_preflight.py", BUNDLED), None, reps=5, quick_reps=3,
             compare={"preflight_s": "lower", "weight_requests": "lower"},
             targets={"preflight_s": 2.0, "weight_requests": 0},
             env={"LAB_MODELS_DIR": str(MODELS_DIR), "LAB_HOME": "{tmp}/home", "HF_HOME": "{tmp}/hf"},
             setup=[PYTHON, "-c", "from lab.models.bundled import ensure_bundled; ensure_bundled()"], timeout_s=120,
             note="Preflight of a DARE-TIES of two Hub models on the fake Hub (SmolLM2's real config and tokenizer "
                  "files): `python -m lab merge CONFIG --preflight`, config files only (weight_requests must be 0)."),
    ]
