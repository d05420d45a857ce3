"""The Models tab: the default model and its facts; prepare (download or convert) any model as a job.

Every handler asks who calls (caller_of): a model is checked for that caller (lab.models.usable.model_for) before
anything is read or fetched, the Hub is called with the caller's own token, and a job is refused on the demo first.
"""
from __future__ import annotations

import gradio as gr

from lab import jobs
from lab.jobs.manager import check_allowed
from lab.models import info
from lab.models.info import human_params
from lab.models.usable import model_for, offline_names
from lab.settings import DEFAULT_MODEL
from lab.ui import serve_panel, strings
from lab.ui.common import caller_of, shows_errors


def model_facts(ref: str, caller=None) -> tuple[dict, str]:
    mref = model_for(caller, ref, "model", expand_adapter=False) if caller is not None else None
    facts = info(ref, token=caller.hub_token() if caller is not None else None)
    name = mref.label if mref is not None else ref
    line = (f"**{name}** · {facts['architecture']} · {human_params(facts['params'])} parameters · "
            f"{facts['layers']} layers · vocab {facts['vocab_size']} · chat template: "
            f"{'yes' if facts['chat_template'] else 'no'}")
    return facts, line


def show_info(ref: str, request: gr.Request):
    facts, line = model_facts(ref, caller_of(request))
    return line, facts


def prepare(ref: str, request: gr.Request) -> str:
    check_allowed("models.prepare")  # off on the demo: before anything else
    caller = caller_of(request)
    caller.require_signed_in("Preparing a model (a download job)")
    mref = model_for(caller, ref, "model", expand_adapter=False)
    job = jobs.submit("models.prepare", {"model": (ref or "").strip()}, title=f"Prepare {mref.label}",
                      token=caller.hub_token(), owner=caller.key)
    return f"Job `{job.id}` is {job.state}: follow it in the Jobs tab."


def offline_list(request: gr.Request) -> str:
    names = offline_names(caller_of(request))
    return "Available offline: " + (", ".join(f"`{m}`" for m in names) or "none")


def build() -> None:
    gr.Markdown(strings.MODELS_HELP)
    with gr.Row():
        ref = gr.Textbox(value=DEFAULT_MODEL, label="Model (Hub id or local folder)", scale=4)
        info_btn = gr.Button("Show info", scale=1)
        prep_btn = gr.Button("Prepare (download / convert)", scale=1)
    line = gr.Markdown()
    facts = gr.JSON(label="Facts (from config files only)")
    offline = gr.Markdown()
    info_btn.click(shows_errors(show_info), ref, [line, facts], api_name="model_info")
    prep_btn.click(shows_errors(prepare), ref, line, api_name="model_prepare")
    gr.Button("List models available offline", size="sm").click(offline_list, None, offline,
                                                                 api_visibility="private")
    serve_panel.build()
