"""The Train tab's side of "Clone into the Train tab" (the Experiments tab): a run the caller may see fills the form
with its recipe, under a fresh output name, so starting it makes a new run."""
from __future__ import annotations

import gradio as gr

from lab.runs.records import run_for
from lab.shown import scrub_value
from lab.train import panel
from lab.train.recipe import TrainRecipe
from lab.ui import bus
from lab.ui.common import caller_of, shows_errors


def cloned_values(run_id: str, request: gr.Request | None) -> tuple[dict, TrainRecipe]:
    """The form's values from the run's recipe (a run another visitor made gets the unknown-run answer)."""
    run = run_for(caller_of(request), run_id)
    recipe = TrainRecipe.parse({**run.recipe, "output_name": ""})
    return scrub_value(panel.form_from_recipe(recipe)), recipe


def wire(c: dict, fields: list[str]) -> None:
    if bus.BUS.clone is None:
        return

    @shows_errors
    def receive(value, request: gr.Request):
        run_id = bus.unstamp(value if isinstance(value, str) else "")
        if not run_id:
            return [gr.update()] * (len(fields) + 2)
        values, recipe = cloned_values(run_id, request)
        return [*(values.get(n) for n in fields), scrub_value(recipe.to_yaml()), f"Cloned from run `{run_id}`."]

    bus.BUS.clone.change(receive, bus.BUS.clone, [*(c[n] for n in fields), c["yaml"], c["form_note"]],
                         api_visibility="private")
