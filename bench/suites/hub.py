"""Hub (issue 3): publishing a ~270 MB model folder through the lab vs a bare HfApi().upload_folder()."""
from __future__ import annotations

import os
from pathlib import Path

from bench.core import PYTHON, Pair, side

# The converted bundled model (~270 MB of safetensors) is shared with the tests' cache.
MODELS_DIR = Path(os.environ.get("LAB_TEST_CACHE", Path.home() / ".cache" / "lab-test")) / "models"
FOLDER = MODELS_DIR / "HuggingFaceTB--SmolLM2-135M-Instruct"


def pairs(quick: bool) -> list[Pair]:
    env = {"LAB_MODELS_DIR": str(MODELS_DIR), "LAB_HOME": "{tmp}/home", "HF_HOME": "{tmp}/hf"}
    setup = [PYTHON, "-c", "from lab.models.bundled import ensure_bundled; ensure_bundled()"]
    return [
        Pair("hub_push", side("sides/hub_push.py", FOLDER), side("baselines/hub_upload_folder.py", FOLDER),
             reps=7, quick_reps=3, warmup=1, compare={"push_s": "lower"}, targets={"wall_ratio": 1.05},
             env=env, setup=setup, timeout_s=300,
             note="Publish the bundled SmolLM2-135M folder (~270 MB) to a fake Hub in the same process "
                  "(tmpfs): `python -m lab push DIR --repo NAME` (whoami, exists check, card, progress) vs "
                  "create_repo + upload_folder."),
    ]
