"""Training: recipe -> TRL/PEFT/bitsandbytes objects; the job that runs trainer.train().

Importing this package registers a job kind per training method (train.sft, train.dpo, ...: the registry in
lab.train.methods) and train.lr_find.
"""
from lab import jobs
from lab.artifacts import new_folder
from lab.jobs import register_kind
from lab.train.methods import METHODS
from lab.train import preflight
from lab.train.recipe import PRESETS, TrainRecipe, preset

KINDS = {name: f"train.{name}" for name in METHODS}
for _method in METHODS.values():
    register_kind(KINDS[_method.name], "lab.train.worker:run", heavy=True, label=f"Train ({_method.label})")
register_kind("train.lr_find", "lab.train.lr_finder:run", heavy=True, label="LR finder")

__all__ = ["TrainRecipe", "PRESETS", "preset", "KINDS", "submit"]


def submit(recipe: TrainRecipe, token: str | None = None, title: str = "", check: bool = True,
           owner: str | None = None):
    """Check the recipe (before anything loads), then queue the job: it starts now unless another heavy job runs."""
    kind = KINDS[recipe.method.name]
    jobs.check_allowed(kind)  # the demo trains nothing: refused before the data is read
    if check:
        preflight.check(recipe, token=token)
    needs_token = bool(recipe.push_checkpoints_to or recipe.push_to)
    folder = new_folder("adapter" if recipe.adapter != "full" else "model", recipe.output_name) \
        if recipe.output_name else None
    return jobs.submit(kind, recipe, title=title or f"{recipe.method.name.upper()} {recipe.adapter} · "
                       f"{recipe.model.split('/')[-1]}", token=token, artifact_dir=folder, needs_token=needs_token,
                       owner=owner)
