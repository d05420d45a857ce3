"""Data: load and normalize datasets, dedup (exact, MinHash, semantic), rule filters, reward/judge scores,
topic exploration and export. Importing this package registers the `data.run` job kind."""
from lab.jobs import register_kind

register_kind("data.run", "lab.data.jobs:run", heavy=True, label="Filter a dataset")


def submit_run(recipe, token: str | None = None, title: str = ""):
    """Run a FilterRecipe as a background job; its folder becomes the dataset artifact."""
    from lab import jobs
    from lab.artifacts import new_folder
    from lab.data.recipe import FilterRecipe

    recipe = FilterRecipe.parse(recipe)
    folder = new_folder("dataset", recipe.name)
    return jobs.submit("data.run", recipe, title=title or f"Filter {', '.join(s.label for s in recipe.sources)}",
                       token=token, artifact_dir=folder)
