"""The Models tab: the default model and its facts; prepare (download or convert) any model as a job."""
from __future__ import annotations

import gradio as gr

from lab import jobs
from lab.models import available_offline, info
from lab.models.info import human_params
from lab.settings import DEFAULT_MODEL
from lab.ui import strings
from lab.ui.common import require_user, shows_errors


def model_facts(ref: str) -> tuple[dict, str]:
    facts = info(ref)
    line = (f"**{ref}** · {facts['architecture']} · {human_params(facts['params'])} parameters · "
            f"{facts['layers']} layers · vocab {facts['vocab_size']} · chat template: "
            f"{'yes' if facts['chat_template'] else 'no'}")
    return facts, line


def prepare(ref: str, oauth_token: gr.OAuthToken | None = None) -> str:
    require_user(oauth_token, "Preparing a model (a download job)")
    job = jobs.submit("models.prepare", {"model": ref}, title=f"Prepare {ref}")
    return f"Job `{job.id}` is {job.state}: follow it in the Jobs tab."


def build() -> None:
    gr.Markdown(strings.MODELS_HELP)
    with gr.Row():
        ref = gr.Textbox(value=DEFAULT_MODEL, label="Model (Hub id or local folder)", scale=4)
        info_btn = gr.Button("Show info", scale=1)
        prep_btn = gr.Button("Prepare (download / convert)", scale=1)
    line = gr.Markdown()
    facts = gr.JSON(label="Facts (from config files only)")
    offline = gr.Markdown()
    info_btn.click(shows_errors(lambda r: model_facts(r)[::-1]), ref, [line, facts], api_name="model_info")
    prep_btn.click(shows_errors(prepare), ref, line, api_name="model_prepare")
    gr.Button("List models available offline", size="sm").click(
        lambda: "Available offline: " + (", ".join(f"`{m}`" for m in available_offline()) or "none"),
        None, offline, api_visibility="private")
