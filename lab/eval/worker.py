"""The `eval` job: ctx.recipe is an EvalRecipe; results, samples and task YAMLs land in the job's folder."""
from __future__ import annotations

import json
import os

from lab.access import job_caller
from lab.eval import flow
from lab.eval.access import check_models, check_task_files
from lab.eval.recipe import EvalRecipe
from lab.jobs.worker_setup import passive_threads


def run(ctx) -> None:
    passive_threads()
    recipe = EvalRecipe.parse(ctx.recipe)
    who = job_caller()  # whose job this is: their models and files only, checked again where they load
    check_task_files(who, recipe)
    check_models(who, recipe)
    result = flow.evaluate_and_record(recipe, ctx.folder, token=os.environ.get("HF_TOKEN") or None, log=ctx.log,
                                      progress=lambda f, m="": ctx.progress(f, m))
    (ctx.folder / "summary.json").write_text(json.dumps(flow.summary(result), indent=2))
    ctx.progress(1.0, flow.summary(result)["message"], force=True)
