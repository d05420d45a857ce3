"""The Serve panel (in the Models tab): the owner starts and stops the lab's OpenAI-compatible server and copies a
Python snippet; a visitor is told it is the owner's. Decided on the server for each call (caller_of)."""
from __future__ import annotations

import gradio as gr

from lab.serve import panel
from lab.ui.common import caller_of, shows_errors


def _start(models: str, port, key: str, request: gr.Request):
    caller = caller_of(request)
    return panel.start(caller, models, port, key), panel.snippet(caller)


def _stop(request: gr.Request):
    caller = caller_of(request)
    return panel.stop(caller), panel.snippet(caller)


def _show(request: gr.Request):
    caller = caller_of(request)
    return panel.status(caller), panel.snippet(caller)


def build() -> None:
    with gr.Accordion("Serve (OpenAI-compatible API)", open=False):
        gr.Markdown("Serve models at `/v1/chat/completions`, `/v1/completions` and `/v1/models` for your own code "
                    "or a judge URL. Adapters on one base share it in memory; the request's `model` picks one. "
                    "Same as `python -m lab serve`.")
        with gr.Row():
            models = gr.Textbox(label="Models (one per line)", lines=2, scale=3,
                                placeholder="empty: the bundled model and your model, merge and adapter artifacts")
            port = gr.Number(value=8000, precision=0, label="Port", scale=1)
            key = gr.Textbox(label="API key (optional on localhost)", type="password", scale=1)
        with gr.Row():
            start = gr.Button("Start serving", variant="primary", size="sm")
            stop = gr.Button("Stop", size="sm")
            refresh = gr.Button("Refresh", size="sm")
        state = gr.Markdown()
        code = gr.Code(language="python", label="Python", interactive=False)
    start.click(shows_errors(_start), [models, port, key], [state, code], api_visibility="private")
    stop.click(shows_errors(_stop), None, [state, code], api_visibility="private")
    refresh.click(shows_errors(_show), None, [state, code], api_visibility="private")
