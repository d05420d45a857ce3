"""Pushing runs as a light job: the token reaches the worker only through its environment (HF_TOKEN),
never through the recipe, the job record, the log or the card.
"""
from __future__ import annotations

import json
import os

from lab import jobs
from lab.auth import require_token
from lab.hub.client import full_repo_id, validate_repo_name
from lab.hub.publisher import check_artifact, check_folder

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
        from lab.eval.gate import check

        check(path, gate_task)
    repo_id = full_repo_id(repo, token)
    recipe = {"folder": str(path), "repo": repo_id, "private": bool(private), "overwrite": bool(overwrite),
              "gate_task": gate_task}
    return jobs.submit("hub.push", recipe, title=f"Push {path.name} to {repo_id}", token=token, needs_token=True,
                       owner=owner)


def run_push(ctx) -> None:
    """The `hub.push` runner (in the worker process)."""
    from lab.hub.publisher import publish

    r = ctx.recipe
    token = os.environ.get("HF_TOKEN")  # put there by the job manager for this worker only
    ctx.progress(0.01, f"Publishing {r['folder']} to {r['repo']}…", force=True)
    url = publish(r["folder"], r["repo"], token, private=r.get("private", True), overwrite=r.get("overwrite", False),
                  progress=lambda fraction, message: ctx.progress(fraction, message), log=ctx.log,
                  gate_task=r.get("gate_task", ""))
    (ctx.folder / "push.json").write_text(json.dumps({"url": url, "repo": r["repo"], "folder": r["folder"]}, indent=2))
    ctx.progress(1.0, f"Published: {url}", force=True)


def push_result(job: jobs.Job) -> dict:
    """The URL a finished push job published to ({} while it runs or when it failed)."""
    path = job.folder / "push.json"
    return json.loads(path.read_text()) if path.is_file() else {}
