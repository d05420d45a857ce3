"""The evolve job as the Merge tab starts and follows it: checks for the caller, submit, and its live state
(best and mean fitness per generation from the job's metrics, and the current best recipe)."""
from __future__ import annotations

import json
import shutil

from lab import jobs, yamlio
from lab.access import Caller
from lab.artifacts import new_folder
from lab.eval.plan import make
from lab.eval.recipe import EvalRecipe
from lab.jobs.context import read_metrics
from lab.jobs.manager import check_allowed
from lab.jobs.owners import job_for
from lab.merge.evolve import check
from lab.merge.evolve_recipe import EvolveRecipe
from lab.merge.recipe import from_dict
from lab.merge.refs import check_refs
from lab.models.usable import artifact_value
from lab.settings import get_settings
from lab.shown import for_visitor, scrub

EXAMPLE = """models:
  - HuggingFaceTB/SmolLM2-135M-Instruct
  - /path/to/a/fine-tune
method: linear
search: [weight]
groups: 1
fitness: [/path/to/fitness.jsonl]
held_out: [/path/to/held_out.jsonl]
limit: 50
population: 4
candidates: 12
"""
OUT_FIELD = "output name"  # the form's box for the new artifact's name


def parse_for(text: str, caller: Caller | None, token: str | None = None) -> EvolveRecipe:
    """The config, its models and tasks checked for `caller` (what they may read) before anything else."""
    recipe = EvolveRecipe.from_yaml(text)
    if caller is not None:
        check_refs(caller, from_dict(recipe.to_config(recipe.parents()[0])))
        make(EvalRecipe.parse({"tasks": recipe.fitness + recipe.held_out}), token, caller)
    return recipe


def check_for(text: str, caller: Caller | None, token: str | None = None) -> tuple[EvolveRecipe, dict]:
    """Check: the preflight and the budget estimate, as Start will (raises on refusal)."""
    recipe = parse_for(text, caller, token)
    return recipe, check(recipe, get_settings().artifacts / "evolve-check", token)


def start(text: str, name: str = "", token: str | None = None, caller: Caller | None = None):
    """Take the output name (a taken or bad one is refused before anything is read or fetched), then parse and
    check the config for `caller` (models, tasks, preflight, the budget estimate), then submit."""
    check_allowed("merge.evolve")
    folder = new_folder("evolve", (name or "").strip(), field=OUT_FIELD)
    try:
        recipe = parse_for(text, caller, token)
        plan = check(recipe, folder, token)
        job = jobs.submit("merge.evolve", recipe.model_dump(mode="json"),
                          title=f"Evolve ({recipe.method}) → {folder.name}", token=token, artifact_dir=folder,
                          owner=None if caller is None else caller.key)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return job, plan


def config_text(job_recipe: str) -> str:
    """The Evolve form's config as a job's recipe set it (a page that comes back to the job shows it, not the
    example); fields left unset or empty are left out, as a person would write it."""
    recipe = EvolveRecipe.from_yaml(job_recipe)
    return yamlio.dump({k: v for k, v in recipe.model_dump(mode="json").items() if v not in (None, "", [])})


def form_of(job: jobs.Job) -> list:
    """The Evolve form (config, output name) as the job had it: a page that comes back to the job shows it."""
    return [config_text(job.recipe), job.folder.name if job.artifact_dir else ""]


def summary(result: dict) -> str:
    """One line on a finished search: the best's fitness against the better parent's, held-out, the cache."""
    fits = [s["fitness"] for s in result.get("parents", {}).values() if s.get("fitness") is not None]
    held = result.get("held_out_mean")
    return (f"Best fitness {result['best']['fitness']:.4f}" + (f" (better parent {max(fits):.4f})" if fits else "")
            + (f", held out {held:.4f}" if held is not None else "")
            + f"; {result['candidates']} candidates, {result['cache_saved']} saved by the cache.")


def status(job_id: str, caller: Caller | None = None) -> dict:
    """State, progress, each generation's {step, best, mean}, the current best recipe (YAML), the artifact and, once
    it is there, a summary of the result."""
    job = jobs.get_job(job_id) if caller is None else job_for(caller, job_id)
    rows = [r for r in read_metrics(job.folder / "metrics.jsonl") if "best" in r]
    best, result = "", {}
    if (job.folder / "evolve_result.json").is_file():
        result = json.loads((job.folder / "evolve_result.json").read_text())
        best = (job.folder / "recipe.yaml").read_text() if (job.folder / "recipe.yaml").is_file() else \
            json.dumps(result["best"]["recipe"], indent=2)
    elif (job.folder / "search" / "best.yaml").is_file():
        best = (job.folder / "search" / "best.yaml").read_text()
    done = job.state == "succeeded" and (job.folder / "lab.json").is_file()
    out = (str(job.folder) if caller is None else artifact_value(caller, job.folder)) if done else ""
    return {"state": job.state, "progress": job.progress, "message": scrub(job.message or ""),
            "error": for_visitor(job.error or "") if job.error else job.error, "final": job.final, "out": out,
            "generations": rows, "best_recipe": scrub(best), "summary": summary(result) if done and result else ""}
