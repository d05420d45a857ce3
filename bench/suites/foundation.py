"""Foundation (issue 2): app start, bundled model resolution, job start, against absolute targets.

App start also runs a bare Gradio app as its baseline, for context only (no ratio target): on a busy 2-core box
the absolute time swings, and the ratio says what the lab adds to Gradio's own start.
"""
from __future__ import annotations

import os
from pathlib import Path

from bench.core import BASELINES, PYTHON, Pair, side

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
# The converted bundled model is shared with the tests' cache, so the one-off conversion (~20 s) is paid once.
MODELS_DIR = Path(os.environ.get("LAB_TEST_CACHE", Path.home() / ".cache" / "lab-test")) / "models"


def pairs(quick: bool) -> list[Pair]:
    resolve = [PYTHON, "-m", "lab", "models", "resolve", MODEL]
    offline = {"HF_HUB_OFFLINE": "1", "LAB_HOME": "{tmp}/home", "HF_HOME": "{tmp}/hf",
               "LAB_MODELS_DIR": str(MODELS_DIR)}
    return [
        Pair("app_start", side("sides/app_start.py"), side("sides/app_start.py", BASELINES / "gradio_hello.py"),
             reps=5, quick_reps=3,
             compare={"first_200_s": "lower"}, targets={"first_200_s": 10}, timeout_s=180,
             note="`python app.py` (free PORT, fresh LAB_HOME, offline) until http://127.0.0.1:PORT/ answers 200. "
                  "rss_mb is the app's memory at that point. Baseline: the same for a bare Gradio hello app "
                  "(bench/baselines/gradio_hello.py), i.e. what Gradio alone costs here."),
        Pair("models_resolve", resolve, None, reps=10, quick_reps=3, targets={"wall_s": 2}, env=offline,
             setup=resolve, timeout_s=300,
             note="`HF_HUB_OFFLINE=1 python -m lab models resolve HuggingFaceTB/SmolLM2-135M-Instruct` once the "
                  "bundled GGUF is converted (the setup run converts it if needed): the whole CLI process."),
        Pair("job_start", side("sides/job_start.py"), None, reps=10, quick_reps=3,
             compare={"job_start_s": "lower", "worker_started_s": "lower", "spawn_s": "lower",
                      "job_total_s": "lower"},
             targets={"job_start_s": 3}, timeout_s=180,
             note="lab.jobs.submit() of a one-step test job until the record shows the worker process running."),
    ]
