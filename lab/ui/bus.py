"""Cross-tab requests ("chat with this", "merge from this", "publish this").

app.py creates these hidden components before any tab, so every tab can write to them and the
receiving tab listens to their change event. Values are artifact paths or model refs, never secrets.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import gradio as gr


@dataclass
class Bus:
    tabs: gr.Tabs | None = None
    chat: gr.Textbox | None = None  # a model ref to load in the Chat tab
    merge: gr.Textbox | None = None  # a model ref to add to the Merge form
    publish: gr.Textbox | None = None  # an artifact folder to select in the Publish panel
    train: gr.Textbox | None = None  # a dataset artifact to train on
    follow: gr.Textbox | None = None  # a job id to open in the panel of its kind (lab.ui.follow)
    clone: gr.Textbox | None = None  # a training run (job id or folder name) whose recipe fills the Train form


BUS = Bus()


def create() -> Bus:
    for name in ("chat", "merge", "publish", "train", "follow", "clone"):
        setattr(BUS, name, gr.Textbox(visible=False, elem_id=f"lab-bus-{name}"))
    return BUS


def stamp(value: str) -> str:
    """A request value that changes even when the same ref is sent twice (the receiver strips it)."""
    return f"{value}\x1f{time.time():.6f}"


def unstamp(value: str | None) -> str:
    return (value or "").split("\x1f", 1)[0]


def goto(tab_id: str) -> gr.Tabs:
    return gr.Tabs(selected=tab_id)
