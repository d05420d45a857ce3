"""Jobs that reach the Hub: pushing runs as a light job of the lab, and a stage's recipe runs on Hugging Face Jobs.

A push's token reaches the worker only through its environment (HF_TOKEN), never through the recipe, the job
record, the log or the card. On Hugging Face Jobs the container fetches the lab's code from a Space (your
duplicate), installs requirements.txt and runs `python -m lab STAGE --recipe-env LAB_RECIPE`: the recipe travels
in an environment variable, the token only as a Jobs *secret* (HF_TOKEN), never in the command line, the
environment or a log.
"""
from __future__ import annotations

import json
import os
import shlex

from pydantic import BaseModel, Field

from lab import jobs
from lab.auth import require_token
from lab.errors import LabError
from lab.hub import publisher
from lab.hub.client import api, full_repo_id, hub_errors, validate_repo_name
from lab.hub.publisher import check_artifact, check_folder
from lab.repo_id import is_repo_id
from lab.scores import check_gate

jobs.register_kind("hub.push", "lab.hub.jobs:run_push", heavy=False, label="Push to the Hub")


def submit_push(folder, repo: str, token: str | None, private: bool = True, overwrite: bool = False,
                artifacts_only: bool = False, gate_task: str = "", owner: str | None = None) -> jobs.Job:
    """Check what can be checked now (sign-in, name, folder, the token with the Hub), then queue the push.

    artifacts_only: the folder must be a finished artifact in LAB_HOME (the UI and its API never push
    arbitrary server folders).
    """
    jobs.check_allowed("hub.push")
    token = require_token(token, "Publishing to the Hub")
    validate_repo_name(repo)
    path = check_artifact(folder) if artifacts_only else check_folder(folder)
    if gate_task:  # refused now, with the numbers; the worker checks again before it pushes
        check_gate(path, gate_task)
    repo_id = full_repo_id(repo, token)
    recipe = {"folder": str(path), "repo": repo_id, "private": bool(private), "overwrite": bool(overwrite),
              "gate_task": gate_task}
    return jobs.submit("hub.push", recipe, title=f"Push {path.name} to {repo_id}", token=token, needs_token=True,
                       owner=owner)


def run_push(ctx) -> None:
    """The `hub.push` runner (in the worker process)."""
    r = ctx.recipe
    token = os.environ.get("HF_TOKEN")  # put there by the job manager for this worker only
    ctx.progress(0.01, f"Publishing {r['folder']} to {r['repo']}…", force=True)
    url = publisher.publish(r["folder"], r["repo"], token, private=r.get("private", True), overwrite=r.get("overwrite", False),
                  progress=lambda fraction, message: ctx.progress(fraction, message), log=ctx.log,
                  gate_task=r.get("gate_task", ""))
    (ctx.folder / "push.json").write_text(json.dumps({"url": url, "repo": r["repo"], "folder": r["folder"]}, indent=2))
    ctx.progress(1.0, f"Published: {url}", force=True)


def push_result(job: jobs.Job) -> dict:
    """The URL a finished push job published to ({} while it runs or when it failed)."""
    path = job.folder / "push.json"
    return json.loads(path.read_text()) if path.is_file() else {}


FLAVORS = ["t4-small", "t4-medium", "l4x1", "a10g-small", "a10g-large", "l40sx1", "a100-large", "h200",
           "l4x4", "a10g-largex2", "a10g-largex4", "l40sx4", "l40sx8", "a100x4", "a100x8",  # several GPUs
           "cpu-upgrade"]
DEFAULT_IMAGE = "python:3.11"


class HfJobSpec(BaseModel):
    flavor: str = Field("a10g-small", description="Hardware: t4 (16 GB, fp16), a10g/l4 (24 GB, bf16), a100/h200 "
                        "(80+ GB); …x2/x4/x8: that many GPUs, for a recipe's num_processes. Bigger costs more per minute and "
                        "finishes sooner.")
    code_space: str = Field("", description="The Space that holds the lab's code (your duplicate). Empty: this "
                            "Space.")
    image: str = Field(DEFAULT_IMAGE, description="Docker image the job runs in (Python 3.10+).")
    timeout: str = Field("4h", description="The job stops after this long (e.g. 90m, 4h).")


def job_command(code_space: str, stage: str = "train") -> list[str]:
    """The container's command: fetch the code, install it, run the stage's recipe. It holds no secret."""
    script = (f"set -e; pip install -q 'huggingface_hub>=2.4,<3'; "
              f"hf download {shlex.quote(code_space)} --repo-type space --local-dir /lab > /dev/null; "
              "cd /lab; pip install -q -r requirements.txt; "
              f"python -m lab {shlex.quote(stage)} --recipe-env LAB_RECIPE")
    return ["bash", "-c", script]


def submit_hf_job(stage: str, recipe_yaml: str, label: str, flavor: str, token: str | None,
                  spec: HfJobSpec | None = None) -> dict:
    """Run a stage's recipe on Hugging Face Jobs; returns the job's id, URL, flavor, image and command (no
    secrets). The stage checks first that its recipe can run there (Hub model and data, a push of the result)."""
    token = require_token(token, "Running on Hugging Face Jobs")
    spec = (spec or HfJobSpec()).model_copy(update={"flavor": flavor or (spec.flavor if spec else "a10g-small")})
    if spec.flavor not in FLAVORS:
        raise LabError(f"Unknown flavor {spec.flavor!r}.", f"Pick one of: {', '.join(FLAVORS)}.", "flavor")
    space = spec.code_space or os.environ.get("SPACE_ID", "")
    if not is_repo_id(space):
        raise LabError("The job needs the lab's code from a Space, and none is known here.",
                       "Give code_space: your duplicate of the lab Space (user/lab).", "code_space")
    command = job_command(space, stage)
    env = {"LAB_RECIPE": recipe_yaml, "LAB_HOME": "/tmp/lab", "HF_HUB_DISABLE_TELEMETRY": "1"}
    with hub_errors("Submitting the Hugging Face Job"):
        info = api(token).run_job(image=spec.image, command=command, env=env, secrets={"HF_TOKEN": token},
                                  flavor=spec.flavor, timeout=spec.timeout, labels={"lab": label})
    return {"job_id": info.id, "url": info.url, "flavor": spec.flavor, "image": spec.image, "command": command,
            "status": getattr(info.status, "stage", "")}


def hf_job_status(job_id: str, token: str | None) -> dict:
    token = require_token(token, "Checking a Hugging Face Job")
    with hub_errors("Checking the Hugging Face Job"):
        info = api(token).inspect_job(job_id=job_id)
    return {"job_id": info.id, "status": info.status.stage, "message": info.status.message, "url": info.url}
