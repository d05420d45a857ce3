"""A Data tab recipe back into the tab's form: the step widgets (in lab.data.session's order), the SFT form and the
first Hub source's fields. Files named in the recipe are listed, not loaded: a file is uploaded again, so a recipe
never makes the server read a path it names. No gradio here."""
from __future__ import annotations

from lab.data.recipe import FilterRecipe
from lab.data.session import step_fields, step_order, widget


def _widget_value(kind: str, name: str, value):
    what = widget(kind, name)[0]
    if what == "lines":
        return "\n".join(value or [])
    if what == "ints":
        return ", ".join(map(str, value or []))
    return value


def form_from_recipe(recipe: FilterRecipe) -> dict:
    """{"widgets": the step widgets' values, "form", "hub", "config", "split", "limit", "files": the file sources'
    names}. A step the recipe leaves out is off, at its defaults."""
    steps = {s.type: s for s in recipe.steps}
    widgets = []
    for kind in step_order():
        step = steps.get(kind)
        for name in step_fields(kind):
            if step is None:
                default = widget(kind, name)[1]
                widgets.append(False if name == "enabled" else default)
            else:
                widgets.append(_widget_value(kind, name, getattr(step, name)))
    hub = next((s for s in recipe.sources if s.hub), None)
    return {"widgets": widgets, "form": recipe.form, "hub": hub.hub if hub else "",
            "config": hub.config if hub else "", "split": hub.split if hub else "train",
            "limit": hub.limit if hub else None, "files": [s.label for s in recipe.sources if s.path]}
