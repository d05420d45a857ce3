""""Run on Hugging Face Jobs": the same recipe on a rented GPU, submitted through lab.hub.jobs.

A recipe with num_processes > 1 runs on a multi-GPU flavor the same way as here: the job's `python -m lab train`
launches its ranks itself. The job's disk is gone when it ends and it cannot read this machine, so the recipe must push its result
(push_to), and its data and model must be on the Hub: checked here, before anything is submitted.
"""
from __future__ import annotations

import re
from pathlib import Path

from lab.auth import require_token
from lab.errors import LabError
from lab.hub.jobs import FLAVORS, HfJobSpec
from lab.hub.jobs import submit_hf_job as submit_to_hub
from lab.repo_id import is_repo_id
from lab.train.recipe import TrainRecipe

__all__ = ["FLAVORS", "HfJobSpec", "submit_hf_job"]


def _check_recipe(recipe: TrainRecipe) -> None:
    if Path(recipe.model).expanduser().exists():
        raise LabError(f"The model {recipe.model} is a folder on this machine, which a Hugging Face Job cannot read.",
                       "Publish it with the Hub panel, then use its repo id.", "model")
    if Path(recipe.dataset).expanduser().exists() or not is_repo_id(recipe.dataset):
        raise LabError(f"The dataset {recipe.dataset!r} is not a Hub dataset id, so a Hugging Face Job cannot read it.",
                       "Publish it with the Hub panel (or pick a Hub dataset), then use its repo id.", "dataset")
    if not recipe.push_to:
        raise LabError("A Hugging Face Job's disk is wiped when it ends, so the result must be pushed.",
                       "Set push_to to a repo such as you/my-adapter.", "push_to")


def flavor_gpus(flavor: str) -> int:
    """GPUs of a Hugging Face Jobs flavor: "a10g-largex4" has 4, "l4x1" 1, "cpu-upgrade" none."""
    if flavor.startswith("cpu"):
        return 0
    count = re.search(r"x(\d+)$", flavor)
    return int(count.group(1)) if count else 1


def _check_flavor(recipe: TrainRecipe, flavor: str) -> None:
    gpus = flavor_gpus(flavor)
    if recipe.num_processes > 1 and not recipe.use_cpu and recipe.num_processes > gpus:
        several = [f for f in FLAVORS if flavor_gpus(f) >= recipe.num_processes]
        raise LabError(f"num_processes is {recipe.num_processes}, but the flavor {flavor} has {gpus} GPU"
                       f"{'s' if gpus != 1 else ''}.",
                       f"Pick a flavor with {recipe.num_processes} GPUs or more ({', '.join(several) or 'none'}), "
                       "or lower num_processes.", "num_processes")


def submit_hf_job(recipe: TrainRecipe, flavor: str, token: str | None, spec: HfJobSpec | None = None) -> dict:
    """Submit the recipe; returns the job's id, URL, flavor, image and command (no secrets)."""
    require_token(token, "Running on Hugging Face Jobs")  # sign-in first, as every Hub action asks
    _check_recipe(recipe)
    _check_flavor(recipe, flavor or (spec.flavor if spec else ""))
    return submit_to_hub("train", recipe.to_yaml(), recipe.method.name, flavor, token, spec)
