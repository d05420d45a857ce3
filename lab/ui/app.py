"""Build the Blocks app from the tabs and launch it."""
from __future__ import annotations

import importlib
import sys
import threading
import time

import gradio as gr
from starlette.middleware import Middleware

from lab import jobs
from lab.chat.gpu_share import yield_to_jobs
from lab.settings import get_settings
from lab.ui import bus, follow, header, startup as start, tour_panel, trackio_route
from lab.ui.common import CSS, take_on_show
from lab.ui.guard import UploadGuard

# (label, module with build()); stages add their tab here.
TABS = [
    ("Data", "lab.ui.data_tab"),
    ("Train", "lab.ui.train_tab"),
    ("Merge", "lab.ui.merge_tab"),
    ("Chat", "lab.ui.chat_tab"),
    ("Evaluate", "lab.ui.eval_tab"),
    ("Hub", "lab.ui.hub_tab"),
    ("Artifacts", "lab.ui.artifacts_tab"),
    ("Jobs", "lab.ui.jobs_tab"),
    ("Experiments", "lab.ui.experiments_tab"),
    ("Models", "lab.ui.models_tab"),
]


def build_app() -> gr.Blocks:
    with gr.Blocks(title="The lab") as demo:
        header.build()
        bus.create()
        connect_tour = tour_panel.build()  # the first-run tour, above the tabs
        with gr.Tabs() as tabs:
            bus.BUS.tabs = tabs
            for label, module in TABS:
                with gr.Tab(label, id=label.lower()) as tab:
                    importlib.import_module(module).build()
                for fn, outputs in take_on_show():
                    tab.select(fn, None, outputs, api_visibility="private", queue=False)
        connect_tour({label.lower() for label, _ in TABS})  # its "Chat with …" buttons need the tabs
        follow.connect_tabs()  # a ?job= link opens the tab of that job's panel
    return demo


def _background() -> None:
    """Keep the job queue moving (starts queued jobs, reaps workers). The hardware probe imports torch,
    so it runs on the first page load instead of slowing the start."""
    home = get_settings().home
    while get_settings().home == home:  # an in-process test app stops when its LAB_HOME goes away
        try:
            jobs.pump()
            _share_gpu()
        except Exception as exc:  # a busy database must not kill the loop
            print(f"job pump: {exc}")
        time.sleep(2.0)


def _share_gpu() -> None:
    """A heavy job running on the GPU gets it: idle chat models are unloaded (the Chat tab says so)."""
    registry = sys.modules.get("lab.chat.registry")  # chat never used: nothing loaded, nothing to unload
    if registry is not None and registry._registry is not None:
        yield_to_jobs(registry._registry)


def startup():
    """On app start: note an empty LAB_HOME, mark jobs whose worker is gone as interrupted, start the pump."""
    state = start.start()
    if state.notice:
        print(state.notice)
    threading.Thread(target=_background, daemon=True, name="lab-background").start()
    return state


def launch_kwargs() -> dict:
    s = get_settings()
    return dict(
        app_kwargs={"middleware": [Middleware(UploadGuard)], "routes": [trackio_route.route()]},
        blocked_paths=[str(s.home)],
        server_name="0.0.0.0", server_port=s.port, share=False, max_file_size=f"{s.max_upload_mb}mb",
        allowed_paths=[], enable_monitoring=False, show_error=False, theme=gr.themes.Soft(), css=CSS,
        footer_links=["gradio", "settings"],
        # Gradio keeps a copy of every component's config per session (~1.6 MB); its default of 10,000 sessions
        # would let one client with fresh session ids fill the Space's memory.
        state_session_capacity=s.max_sessions,
    )


def main() -> None:
    get_settings()  # fail early with a clear message when LAB_HOME is not writable
    startup()
    build_app().queue(default_concurrency_limit=4, max_size=64).launch(**launch_kwargs())
