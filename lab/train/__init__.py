"""Training: recipe -> TRL/PEFT/bitsandbytes objects; the job that runs trainer.train().

Importing this package registers the job kinds train.sft, train.dpo, train.grpo, train.kto, train.reward and
train.lr_find.
"""
from lab.jobs import register_kind
from lab.train.recipe import PRESETS, TrainRecipe, preset

KINDS = {m: f"train.{m}" for m in ("sft", "dpo", "grpo", "kto", "reward")}
for _method, _label in (("sft", "SFT"), ("dpo", "DPO"), ("grpo", "GRPO"), ("kto", "KTO"), ("reward", "reward model")):
    register_kind(KINDS[_method], "lab.train.worker:run", heavy=True, label=f"Train ({_label})")
register_kind("train.lr_find", "lab.train.lr_finder:run", heavy=True, label="LR finder")

__all__ = ["TrainRecipe", "PRESETS", "preset", "KINDS", "submit"]


def submit(recipe: TrainRecipe, token: str | None = None, title: str = "", check: bool = True,
           owner: str | None = None):
    """Check the recipe (before anything loads), then queue the job: it starts now unless another heavy job runs."""
    from lab import jobs
    from lab.artifacts import new_folder
    from lab.train.preflight import check as preflight

    jobs.check_allowed(KINDS[recipe.method])  # the demo trains nothing: refused before the data is read
    if check:
        preflight(recipe, token=token)
    needs_token = bool(recipe.push_checkpoints_to or recipe.push_to)
    folder = new_folder("adapter" if recipe.adapter != "full" else "model", recipe.output_name) \
        if recipe.output_name else None
    return jobs.submit(KINDS[recipe.method], recipe, title=title or f"{recipe.method.upper()} {recipe.adapter} · "
                       f"{recipe.model.split('/')[-1]}", token=token, artifact_dir=folder, needs_token=needs_token,
                       owner=owner)
