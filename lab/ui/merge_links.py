"""The Merge tab's links to other tabs: "Try it in Chat", "Merge this" from another tab, the family tree of a
merge and the publish panel's picker. Each acts for the caller: another's merge is never shown."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from lab.artifacts import read_manifest
from lab.errors import LabError
from lab.jobs.owners import artifact_for
from lab.merge import editor
from lab.scores import scored_tree
from lab.shown import scrub
from lab.ui import bus
from lab.ui.common import caller_of
from lab.ui.publish_panel import artifact_choices

PRIVATE = {"api_visibility": "private"}


def wire_chat(c: dict) -> None:
    """Try it in Chat: the merge goes to the Chat tab through the app's request bus, and the Chat tab opens."""
    targets = [t for t in (bus.BUS.chat, bus.BUS.tabs) if t is not None]

    def try_chat(out):
        updates = [bus.stamp(out)] if bus.BUS.chat is not None else []
        if bus.BUS.tabs is not None:
            updates.append(bus.goto("chat"))
        return [*updates, "" if bus.BUS.chat is not None else f"Open the Chat tab and pick `{out}`."]

    c["try_chat"].click(try_chat, c["out"], [*targets, c["job_status"]], **PRIVATE)


def wire_bus(c: dict, form: list, filled: list, fill, values) -> None:
    """"Merge this" from another tab (e.g. Artifacts): the model joins the form."""
    if bus.BUS.merge is None:
        return

    def receive(request: gr.Request, value, *args):
        ref = scrub(bus.unstamp(value))  # on a Space an artifact goes by its folder name, never its path
        if not ref:
            return [gr.skip()] * len(filled)
        try:
            return fill(editor.add_model(values(*args), ref, caller=caller_of(request)),
                         f"Added `{ref}` to the merge.")
        except LabError as exc:
            return [gr.skip()] * (len(filled) - 1) + [f"⚠️ {scrub(str(exc))}"]

    bus.BUS.merge.change(receive, [bus.BUS.merge, *form], filled, **PRIVATE)


def family(folder: str, colour: str | None = None, request: gr.Request = None) -> str:
    """The family tree of a merge this caller may see (their own or shared), by its name."""
    try:
        folder = artifact_for(caller_of(request), folder) if folder else None
    except LabError:
        folder = None
    manifest = read_manifest(folder) if folder else {}
    return scored_tree(manifest, manifest.get("name", ""), colour or "") if manifest else ""


def publish_choice(out: str, caller):
    """The publish panel's artifact picker, pointed at the new merge when the panel lists it (publishing goes
    through the Hub panel)."""
    if not out:
        return gr.update()

    choices = artifact_choices(caller)
    values = {v for _, v in choices}
    match = next((v for v in values if v == out or Path(v).name == out), None)
    return gr.update(choices=choices, value=match) if match else gr.update(choices=choices)
