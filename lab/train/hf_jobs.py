""""Run on Hugging Face Jobs": the same recipe, on a rented GPU, through huggingface_hub's Jobs API.

The container fetches the lab's code from a Space (your duplicate), installs requirements.txt and runs
`python -m lab train --recipe-env LAB_RECIPE`. The recipe travels in an environment variable; the token only
as a Jobs *secret* (HF_TOKEN), never in the command line, the environment or a log. The job's disk is gone when
it ends, so the recipe must push its result (push_to), and its data and model must be on the Hub.
"""
from __future__ import annotations

import shlex
from pathlib import Path

from pydantic import BaseModel, Field

from lab.auth import require_token
from lab.errors import LabError
from lab.repo_id import is_repo_id
from lab.train.recipe import TrainRecipe

FLAVORS = ["t4-small", "t4-medium", "l4x1", "a10g-small", "a10g-large", "l40sx1", "a100-large", "h200",
           "cpu-upgrade"]
DEFAULT_IMAGE = "python:3.11"


class HfJobSpec(BaseModel):
    flavor: str = Field("a10g-small", description="Hardware: t4 (16 GB, fp16), a10g/l4 (24 GB, bf16), a100/h200 "
                        "(80+ GB). Bigger costs more per minute and finishes sooner.")
    code_space: str = Field("", description="The Space that holds the lab's code (your duplicate). Empty: this "
                            "Space.")
    image: str = Field(DEFAULT_IMAGE, description="Docker image the job runs in (Python 3.10+).")
    timeout: str = Field("4h", description="The job stops after this long (e.g. 90m, 4h).")


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


def job_command(code_space: str) -> list[str]:
    """The container's command: fetch the code, install it, train. It holds no secret."""
    script = (f"set -e; pip install -q 'huggingface_hub>=2.4,<3'; "
              f"hf download {shlex.quote(code_space)} --repo-type space --local-dir /lab > /dev/null; "
              "cd /lab; pip install -q -r requirements.txt; python -m lab train --recipe-env LAB_RECIPE")
    return ["bash", "-c", script]


def submit_hf_job(recipe: TrainRecipe, flavor: str, token: str | None, spec: HfJobSpec | None = None) -> dict:
    """Submit the recipe; returns the job's id, URL, flavor, image and command (no secrets)."""
    import os

    from lab.hub.client import api, hub_errors

    token = require_token(token, "Running on Hugging Face Jobs")
    spec = (spec or HfJobSpec()).model_copy(update={"flavor": flavor or (spec.flavor if spec else "a10g-small")})
    if spec.flavor not in FLAVORS:
        raise LabError(f"Unknown flavor {spec.flavor!r}.", f"Pick one of: {', '.join(FLAVORS)}.", "flavor")
    _check_recipe(recipe)
    space = spec.code_space or os.environ.get("SPACE_ID", "")
    if not is_repo_id(space):
        raise LabError("The job needs the lab's code from a Space, and none is known here.",
                       "Give code_space: your duplicate of the lab Space (user/lab).", "code_space")
    command = job_command(space)
    env = {"LAB_RECIPE": recipe.to_yaml(), "LAB_HOME": "/tmp/lab", "HF_HUB_DISABLE_TELEMETRY": "1"}
    with hub_errors("Submitting the Hugging Face Job"):
        info = api(token).run_job(image=spec.image, command=command, env=env, secrets={"HF_TOKEN": token},
                                  flavor=spec.flavor, timeout=spec.timeout, labels={"lab": recipe.method})
    return {"job_id": info.id, "url": info.url, "flavor": spec.flavor, "image": spec.image, "command": command,
            "status": getattr(info.status, "stage", "")}


def job_status(job_id: str, token: str | None) -> dict:
    from lab.hub.client import api, hub_errors

    token = require_token(token, "Checking a Hugging Face Job")
    with hub_errors("Checking the Hugging Face Job"):
        info = api(token).inspect_job(job_id=job_id)
    return {"job_id": info.id, "status": info.status.stage, "message": info.status.message, "url": info.url}
