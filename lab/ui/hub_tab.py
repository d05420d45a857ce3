"""The Hub tab: search models and datasets (facts and previews without weights), and publish artifacts."""
from __future__ import annotations

import json

import gradio as gr

from lab.hub import dataset_preview, model_meta
from lab.models.info import human_params
from lab.ui import bus, hub_picker, hub_strings, publish_panel
from lab.ui.common import caller_of, shows_errors


def model_facts(repo_id: str, request: gr.Request) -> tuple[str, dict]:
    """Facts of a Hub model, read with the caller's own token (a visitor's, never the Space's)."""
    facts = model_meta(repo_id, token=caller_of(request).hub_token())
    line = (f"**{facts['repo']}** · {facts['architecture']} · {human_params(facts['params'])} parameters · "
            f"license {facts['license'] or 'unknown'} · base model: {', '.join(facts['base_model']) or '—'}")
    if facts["pickle_only"]:
        line += hub_strings.PICKLE_WARNING
    return line, facts


def _cell(value):
    return json.dumps(value, ensure_ascii=False)[:500] if isinstance(value, (list, dict)) else value


def preview(repo_id: str, request: gr.Request):
    p = dataset_preview(repo_id, 10, token=caller_of(request).hub_token())
    rows = [[_cell(r.get(c, "")) for c in p["columns"]] for r in p["rows"] if isinstance(r, dict)]
    return f"First {len(rows)} rows of `{p['file']}` in **{p['repo']}**", {"headers": p["columns"], "data": rows}


def build() -> None:
    gr.Markdown(hub_strings.HUB_HELP)
    with gr.Tabs() as inner:
        _tabs(inner)


def _tabs(inner) -> None:
    with gr.Tab("Models", id="hub-models"):
        model = gr.Textbox(label="Model", placeholder="org/name")
        hub_picker.build_picker(model, api_name="hub_search")
        facts_btn = gr.Button("Show facts (config and card only)")
        line = gr.Markdown()
        facts = gr.JSON(label="Facts")
        facts_btn.click(shows_errors(model_facts), model, [line, facts], api_name="hub_model_facts")
    with gr.Tab("Datasets", id="hub-datasets"):
        dataset = gr.Textbox(label="Dataset", placeholder="org/name")
        hub_picker.build_picker(dataset, datasets=True, api_name="hub_search_datasets")
        prev_btn = gr.Button("Preview the first rows")
        caption = gr.Markdown()
        rows = gr.Dataframe(value=[], interactive=False, wrap=True, max_height=360)
        prev_btn.click(shows_errors(preview), dataset, [caption, rows], api_name="hub_dataset_preview")
    with gr.Tab("Publish", id="hub-publish"):
        panel = publish_panel.build()

    def receive(sent, request: gr.Request):
        name = bus.unstamp(sent)
        if not name:
            return gr.skip(), gr.skip()
        choices = publish_panel.artifact_choices(caller_of(request))
        value = name if name in {v for _, v in choices} else None
        return gr.Dropdown(choices=choices, value=value), gr.Tabs(selected="hub-publish")

    # "Publish it" from the Artifacts tab selects the artifact here.
    bus.BUS.publish.change(receive, bus.BUS.publish, [panel["artifact"], inner], api_visibility="private")
