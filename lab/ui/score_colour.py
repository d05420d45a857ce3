"""The "colour the family tree by" picker the Merge and Artifacts tabs share: any 'task · metric' a model was
scored on in the Evaluate tab (or a train or merge job's evaluation)."""
from __future__ import annotations

import gradio as gr

from lab.scores import score_choices
from lab.ui.common import on_load, on_show

LABEL = "Colour the family tree by score"
INFO = "A task and metric some model in the tree was evaluated on (Evaluate tab); empty: no colours."


def picker(elem_id: str) -> gr.Dropdown:
    dropdown = gr.Dropdown([], value=None, label=LABEL, info=INFO, elem_id=elem_id)
    refresh = lambda: gr.Dropdown(choices=score_choices())  # noqa: E731
    on_load(refresh, None, dropdown)
    on_show(refresh, dropdown)
    return dropdown
