""""Load recipe" on Train, Merge, Data and Evaluate: a YAML recipe file fills the tab's form. The file is parsed
with the safe loader and validated by the stage's recipe before any widget changes, so a bad file raises a LabError
naming the field and the fix, and leaves the form as it was. Only the form is filled: nothing runs, and a file
named in a recipe is never read from the server (the user uploads it again)."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from lab.data import recipe_form as data_form
from lab.data.recipe import FilterRecipe
from lab.errors import LabError
from lab.eval import catalog, recipe_form as eval_form
from lab.eval.recipe import EvalRecipe
from lab.merge import editor
from lab.train import panel
from lab.train.recipe import TrainRecipe
from lab.yamlio import MAX_YAML_BYTES
from lab.ui.common import shows_errors

PRIVATE = {"api_visibility": "private", "show_progress": "hidden"}  # fast; an error must not cover the form
LOADED = "✅ Recipe `{name}` loaded into the form."


def place(elem_id: str) -> gr.UploadButton:
    return gr.UploadButton("Load recipe", file_types=[".yaml", ".yml"], type="filepath", size="sm",
                           elem_id=elem_id, scale=1)


def recipe_text(path) -> str:
    """The text of an uploaded recipe file (capped like any recipe, UTF-8 only)."""
    if not path:
        raise LabError("No recipe file given.", "Pick a .yaml recipe the lab saved.", "recipe file")
    data = Path(path).read_bytes()[:MAX_YAML_BYTES + 1]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise LabError("The recipe file is not UTF-8 text.", "Pick the .yaml recipe the lab saved.",
                       "recipe file") from None


def _note(path, left_out: list[str]) -> str:
    line = LOADED.format(name=Path(path).name)
    return line + (f" Not in the form, so not loaded: {'; '.join(left_out)}." if left_out else "")


def train_values(text: str) -> list:
    """The Train form's values (panel.FIELDS order) and the recipe's YAML, from a recipe's text."""
    recipe = TrainRecipe.from_yaml(text)
    values = panel.form_from_recipe(recipe)
    return [*(values[n] for n in panel.FIELDS), recipe.to_yaml()]


def wire_train(button: gr.UploadButton, c: dict) -> None:
    @shows_errors
    def load(path):
        return [*train_values(recipe_text(path)), _note(path, [])]

    button.upload(load, button, [*(c[n] for n in panel.FIELDS), c["yaml"], c["form_note"]], **PRIVATE)


def wire_merge(button: gr.UploadButton, fill, outputs: list) -> None:
    """fill(values, note): the Merge tab's own form updates (with the YAML) for form values."""
    @shows_errors
    def load(path):
        return fill(editor.yaml_to_form(recipe_text(path)), _note(path, []))

    button.upload(load, button, outputs, **PRIVATE)


def data_values(text: str) -> tuple[dict, list[str]]:
    recipe = FilterRecipe.from_yaml(text)
    values = data_form.form_from_recipe(recipe)
    hubs = [s.hub for s in recipe.sources if s.hub]
    left_out = [f"file {f} (upload it again)" for f in values["files"]]
    left_out += [f"Hub dataset {h} (one Hub source fits the form)" for h in hubs[1:]]
    return values, left_out


def wire_data(button: gr.UploadButton, c) -> None:
    @shows_errors
    def load(path):
        values, left_out = data_values(recipe_text(path))
        note = _note(path, left_out) + " Load the data, then run the filters."
        return [*values["widgets"], values["form"], values["hub"], values["config"], values["split"],
                values["limit"], note]

    button.upload(load, button, [*c.controls, c.form, c.hub, c.config, c.split, c.limit, c.status], **PRIVATE)


# the Evaluate form's fields a recipe fills, in order (task files are uploaded again; the judge's fields follow)
EVAL_KEYS = ("models", "hub", "kind", "regex", "extract", "open", "names", "limit", "fewshot", "chat", "batch")


def eval_values(text: str) -> dict:
    return eval_form.form_from_recipe(EvalRecipe.from_yaml(text), [v for _, v in catalog.choices()])


def wire_eval(button: gr.UploadButton, c: dict) -> None:

    @shows_errors
    def load(path):
        values = eval_values(recipe_text(path))
        judge = [values["judge"][k] for k in sorted(c["judge"])]
        return [*(values[k] for k in EVAL_KEYS), *judge, _note(path, values["left_out"])]

    outputs = [*(c[k] for k in EVAL_KEYS), *(c["judge"][k] for k in sorted(c["judge"])), c["status"]]
    button.upload(load, button, outputs, **PRIVATE)
