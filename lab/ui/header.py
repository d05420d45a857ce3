"""The header: title, hardware summary, sign-in state, and the duplicate invitation on the demo Space."""
from __future__ import annotations

import gradio as gr

from lab.auth import status_text
from lab.hardware import get_hardware
from lab.settings import get_settings
from lab.ui import startup, strings
from lab.ui.common import caller_of, on_load


def build() -> None:
    s = get_settings()
    with gr.Row(equal_height=True):
        with gr.Column(scale=4):
            gr.Markdown(f"# {strings.TITLE}\n{strings.TAGLINE}")
            hw = gr.Markdown("Probing hardware…", elem_id="lab-hardware")
        with gr.Column(scale=2, min_width=260):
            if s.on_space:
                gr.LoginButton(value="Sign in with Hugging Face", elem_id="lab-login")
            signin = gr.Markdown("Checking sign-in…", elem_id="lab-signin")

    gr.Markdown(f"**{startup.state().notice}**" if startup.state().notice else "", elem_id="lab-startup-notice")
    if s.demo:
        with gr.Row():
            gr.Markdown(f"**{strings.DEMO_NOTE}**")
            gr.DuplicateButton(value="Duplicate this Space", variant="primary", elem_id="lab-duplicate")

    def load(request: gr.Request):
        caller = caller_of(request)
        token = caller.hub_token()
        who = status_text(token, caller.name or None)
        if not s.on_space and not token:
            who += f". {strings.LOCAL_SIGNIN}"
        if s.on_space and caller.signed_in:
            who += strings.ROLE_OWNER if caller.is_owner else strings.ROLE_VISITOR
        return f"Hardware: {get_hardware().summary()}", f"**{who}**"

    on_load(load, None, [hw, signin])
