"""`python -m lab merge evolve CONFIG.yaml --out DIR`: evolve a merge and print JSON (best recipe, fitness,
held-out scores, each generation, cache hits)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from lab import jobs
from lab.auth import local_token
from lab.errors import LabError
from lab.jobs import manager
from lab.merge.evolve import check, evolve
from lab.merge.evolve_recipe import EvolveRecipe
from lab.merge.worker import check_out
from lab.settings import get_settings
from lab.ui_text import print_json


def run(config: str, out: str = "", as_job: bool = False) -> int:
    if not config:
        raise LabError("merge evolve needs a config file.", "Run `python -m lab merge evolve CONFIG.yaml --out DIR`.",
                       "config")
    recipe = EvolveRecipe.load(config)
    token = local_token()
    folder = Path(out).expanduser().resolve() if out else \
        get_settings().artifacts / time.strftime("evolve-%Y%m%d-%H%M%S")
    if not as_job:
        print_json(evolve(recipe, folder, token, log=lambda m: print(m, file=sys.stderr)))
        return 0
    check_out(folder)
    check(recipe, folder, token)  # refused here, before the job is queued
    job = jobs.submit("merge.evolve", recipe.model_dump(mode="json"), title=f"Evolve ({recipe.method})",
                      token=token, artifact_dir=folder)
    print(f"Job {job.id} started; follow it with `python -m lab jobs show {job.id}`.", file=sys.stderr)
    job = manager.wait(job.id, timeout=7 * 24 * 3600)
    if job.state != "succeeded":
        print(f"error: evolve job {job.id} {job.state}: {job.error}", file=sys.stderr)
        return 2
    print_json(json.loads((folder / "evolve_result.json").read_text()))
    return 0
