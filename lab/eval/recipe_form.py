"""An eval recipe back into the Evaluate tab's form: the inverse of lab.eval.board.recipe_from_form. Hub tasks go
back as `repo:split`, catalog tasks to the picker and the rest to the names box. What the form cannot hold (a
task file, per-task settings, a Hub config) is said, not dropped silently. No gradio here."""
from __future__ import annotations

from lab.eval.recipe import CustomTask, EvalRecipe, JudgeSettings

FORM_JUDGE = ("backend", "model", "endpoint", "api_key_env", "mode", "reference_model", "rubric")


def form_from_recipe(recipe: EvalRecipe, catalog: list[str]) -> dict:
    """The form's values (keys as the tab's components) and `left_out`: what the form cannot show."""
    hub = [c for c in recipe.custom if c.hub]
    first = recipe.custom[0] if recipe.custom else CustomTask(hub="x/y")
    left_out = [f"task file {c.label} (upload it again)" for c in recipe.custom if c.path]
    plain = CustomTask(hub="x/y", kind=first.kind, regex=first.regex, extract=first.extract).model_dump(
        exclude={"hub", "split"})
    for c in recipe.custom:
        extra = {k: v for k, v in c.model_dump(exclude={"hub", "path", "split"}).items() if plain.get(k) != v}
        if c.kind != first.kind or c.regex != first.regex or c.extract != first.extract or extra:
            left_out.append(f"{c.label}'s own settings ({', '.join(sorted(extra) or ['kind', 'regex'])})")
    judge_defaults = JudgeSettings().model_dump()
    judge = recipe.judge.model_dump()
    left_out += [f"judge {k}" for k in judge if k not in FORM_JUDGE and judge[k] != judge_defaults[k]]
    left_out += [k for k in ("contamination", "use_cache") if not getattr(recipe, k)]
    return {
        "models": list(recipe.models), "hub": ", ".join(f"{c.hub}:{c.split}" for c in hub),
        "kind": first.kind, "regex": first.regex, "extract": first.extract,
        "open": [t for t in recipe.tasks if t in catalog], "names": ", ".join(t for t in recipe.tasks
                                                                            if t not in catalog),
        "limit": "" if recipe.limit is None else str(recipe.limit),
        "fewshot": "" if recipe.num_fewshot is None else str(recipe.num_fewshot),
        "chat": recipe.chat_template, "batch": recipe.batch_size,
        "judge": {k: judge[k] for k in FORM_JUDGE}, "left_out": left_out,
    }
