"""The `data.run` job: a FilterRecipe run in its own process (large sets, embeddings, scoring), with progress,
saved as a dataset artifact in the job's folder."""
from __future__ import annotations

import os

from lab.access import job_caller
from lab.data import export
from lab.data.pipeline import run as run_pipeline
from lab.data.policy import check_recipe
from lab.data.recipe import FilterRecipe


def run(ctx) -> None:
    recipe = FilterRecipe.parse(ctx.recipe)
    check_recipe(recipe, job_caller())  # checked at submit; again here, as whose job it is
    result = run_pipeline(recipe, token=os.environ.get("HF_TOKEN") or None,
                          progress=lambda f, m="": ctx.progress(0.95 * f, m), log=ctx.log)
    export.save(result, recipe, ctx.folder)  # the funnel goes to lab.json and the card (no metrics.jsonl: it would
    # be published next to data.parquet as a second "data" file)
    ctx.progress(1.0, f"{len(result.kept)} rows saved", force=True)
    ctx.log(f"Saved {len(result.kept)} of {len(result.table)} rows to {ctx.folder}")
