"""/trackio: trackio's own dashboard over the lab's records (LAB_HOME/trackio), mounted on the lab's server.

Only the owner (or the local user) sees it: every run of every visitor is in one trackio project, so a visitor of
a Space gets the same 404 as a path that does not exist. The dashboard is built on the first request, so the app
does not pay for importing trackio at start."""
from __future__ import annotations

import importlib.util
import threading

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount

from lab.train.tracking import use_lab_dir
from lab.ui.common import caller_of

PATH = "/trackio"
LINK = (f"Runs with report_to trackio: [open trackio's dashboard]({PATH}/) (the lab's owner only; or run "
        "`TRACKIO_DIR=$LAB_HOME/trackio trackio show`). Compare runs side by side in the Experiments tab.")


class TrackioDashboard:
    """An ASGI app: the owner's requests go to trackio's Starlette app, anyone else's get a 404."""

    def __init__(self):
        self._app = None
        self._lock = threading.Lock()

    def _dashboard(self):
        with self._lock:
            if self._app is None:
                use_lab_dir()  # before trackio is imported: it reads its folder then
                from trackio.server import build_starlette_app_only  # heavy: trackio

                self._app, _ = build_starlette_app_only()
            return self._app

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return
        if not caller_of(Request(scope)).is_owner:  # a websocket is closed unanswered
            if scope["type"] == "http":
                await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            return
        if importlib.util.find_spec("trackio") is None:
            return await PlainTextResponse("trackio is not installed here: pip install trackio.",
                                           status_code=404)(scope, receive, send)
        await self._dashboard()(scope, receive, send)


def route() -> Mount:
    """The mount app.py passes to the server (before Gradio's own routes, so /trackio is trackio's)."""
    return Mount(PATH, app=TrackioDashboard())
