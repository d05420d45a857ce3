"""Training: recipe -> TRL/PEFT/bitsandbytes objects; the job that runs trainer.train().

Importing this package registers the job kinds train.sft, train.dpo and train.lr_find.
"""
from lab.jobs import register_kind
from lab.train.recipe import PRESETS, TrainRecipe, preset

KINDS = {"sft": "train.sft", "dpo": "train.dpo"}
register_kind("train.sft", "lab.train.worker:run", heavy=True, label="Train (SFT)")
register_kind("train.dpo", "lab.train.worker:run", heavy=True, label="Train (DPO)")
register_kind("train.lr_find", "lab.train.lr_finder:run", heavy=True, label="LR finder")

__all__ = ["TrainRecipe", "PRESETS", "preset", "KINDS", "submit"]


def submit(recipe: TrainRecipe, token: str | None = None, title: str = "", check: bool = True):
    """Check the recipe (before anything loads), then queue the job: it starts now unless another heavy job runs."""
    from lab import jobs
    from lab.artifacts import new_folder
    from lab.train.preflight import check as preflight

    if check:
        preflight(recipe, token=token)
    needs_token = bool(recipe.push_checkpoints_to or recipe.push_to)
    folder = new_folder("adapter" if recipe.adapter != "full" else "model", recipe.output_name) \
        if recipe.output_name else None
    return jobs.submit(KINDS[recipe.method], recipe, title=title or f"{recipe.method.upper()} {recipe.adapter} · "
                       f"{recipe.model.split('/')[-1]}", token=token, artifact_dir=folder, needs_token=needs_token)
