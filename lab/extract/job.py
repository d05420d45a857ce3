"""The `extract.lora` job as the Merge tab starts and follows it: the Check (references, task, the layers compared),
submit, its live state, and the runner (in the job's worker: off the app's event loop, under the watchdog)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from lab import jobs
from lab.access import Caller, job_caller
from lab.artifacts import new_folder
from lab.extract.core import check, default_name, run as extract_run
from lab.extract.score import label
from lab.extract.plan import plan
from lab.extract.recipe import ExtractRecipe
from lab.jobs.manager import check_allowed
from lab.jobs.owners import job_for
from lab.models import resolve
from lab.models.usable import artifact_value
from lab.shown import for_visitor, scrub

KIND = "extract.lora"
RESULT = "extract_result.json"


def parse_for(values: dict, caller: Caller) -> tuple[ExtractRecipe, tuple[str, str]]:
    """The recipe, and its two model references checked for `caller` with the task, before anything is read. A
    job writes into its own new artifact, so `out` (a server folder) is the CLI's alone."""
    recipe = ExtractRecipe.parse({**values, "out": ""})
    return recipe, check(recipe, caller)


def check_for(values: dict, caller: Caller) -> dict:
    """The Check: refusals as Start meets them, then the two models' layers compared from their headers (a base
    that is not the model's base is refused, naming the first mismatch). Models not on this machine are fetched."""
    recipe, (model_ref, base_ref) = parse_for(values, caller)
    token = caller.hub_token()
    model_dir = Path(resolve(model_ref, token=token, log=lambda m: None))
    base_dir = Path(resolve(base_ref, token=token, log=lambda m: None))
    layers = plan(model_dir, base_dir)
    size = f"rank {recipe.rank}" if recipe.energy is None else f"{recipe.energy:g} of each layer's spectral energy"
    return {"layers": len(layers.linear), "other": len(layers.other), "size": size,
            "name": recipe.name.strip() or default_name(recipe),
            "task": recipe.eval_task, "limit": recipe.eval_limit}


def start(values: dict, caller: Caller) -> jobs.Job:
    """Check for `caller`, then submit the job into a new adapter artifact (refused on the demo first)."""
    check_allowed(KIND)
    recipe, _ = parse_for(values, caller)
    folder = new_folder("adapter", recipe.name.strip() or default_name(recipe))
    try:
        return jobs.submit(KIND, recipe.model_dump(mode="json"), title=f"Extract a LoRA → {folder.name}",
                           token=caller.hub_token(), artifact_dir=folder, owner=caller.key)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def status(job_id: str, caller: Caller | None = None) -> dict:
    """State, progress, message, error, and once done the result (relative error, scores) and the artifact."""
    job = jobs.get_job(job_id) if caller is None else job_for(caller, job_id)
    result = {}
    if job.state == "succeeded" and (job.folder / RESULT).is_file():
        result = json.loads((job.folder / RESULT).read_text())
    done = bool(result) and (job.folder / "lab.json").is_file()
    out = (str(job.folder) if caller is None else artifact_value(caller, job.folder)) if done else ""
    return {"state": job.state, "progress": job.progress, "message": scrub(job.message or ""),
            "error": for_visitor(job.error) if job.error else "", "final": job.final, "out": out,
            "result": result}


def describe(result: dict) -> str:
    """The result in a few lines of Markdown."""
    if not result:
        return ""
    lines = [f"**{result['layers']} layers**, rank {result['rank']} (mean {result['mean_rank']}): relative error "
             f"of the reconstructed difference **{result['relative_error']:.4f}** (all tensors: "
             f"{result['relative_error_all']:.4f})."]
    if result.get("not_carried"):
        lines.append(f"{len(result['not_carried'])} changed tensor(s) a LoRA cannot carry: "
                     + ", ".join(t["tensor"] for t in result["not_carried"][:5]) + ".")
    scores = result.get("eval")
    if scores:
        items = f" (first {scores['limit']} items)" if scores.get("limit") else ""
        lines.append(f"On **{label(scores['task'])}**{items}, {scores['metric']}: adapter on its base "
                     f"**{scores['adapter']:.4f}**, full model **{scores['full']:.4f}**, difference "
                     f"**{scores['difference']:+.4f}**.")
    return "\n\n".join(lines)


def run(ctx) -> None:
    """The `extract.lora` runner: ctx.recipe is the ExtractRecipe; the bar moves per tensor, then by lm-eval item."""
    recipe = ExtractRecipe.parse(ctx.recipe or {})
    result = extract_run(recipe, job_caller(), log=ctx.log, progress=lambda f, m="": ctx.progress(f, m),
                         folder=ctx.folder)
    (ctx.folder / RESULT).write_text(json.dumps(result, indent=2))
    scores = result.get("eval")
    ctx.progress(1.0, f"Done: relative error {result['relative_error']:.4f}" + (
        f"; {label(scores['task'])}: adapter {scores['adapter']:.4f}, full model {scores['full']:.4f}" if scores else ""),
        force=True)
