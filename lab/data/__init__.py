"""Data: load and normalize datasets, dedup (exact, MinHash, semantic), rule filters, reward/judge scores,
topic exploration and export. Importing this package registers the `data.run` job kind."""
from lab import jobs
from lab.artifacts import new_folder
from lab.data.judge_policy import JUDGE_KEY_ENV
from lab.data.recipe import FilterRecipe
from lab.jobs import register_kind
from lab.jobs.manager import check_allowed

register_kind("data.run", "lab.data.jobs:run", heavy=True, label="Filter a dataset")


def submit_run(recipe, token: str | None = None, title: str = "", owner: str | None = None, judge_key: str = ""):
    """Run a FilterRecipe as a background job; its folder becomes the dataset artifact. `owner`: the lab.access key
    of who asked; `judge_key`: the API key they typed for an endpoint judge (it reaches only this job's worker, as
    LAB_JUDGE_API_KEY, and is never stored). Refused first on the public demo."""
    check_allowed("data.run")
    recipe = FilterRecipe.parse(recipe)
    folder = new_folder("dataset", recipe.name)
    return jobs.submit("data.run", recipe, title=title or f"Filter {', '.join(s.label for s in recipe.sources)}",
                       token=token, artifact_dir=folder, owner=owner,
                       secrets={JUDGE_KEY_ENV: judge_key} if judge_key else None)
