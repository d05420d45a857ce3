"""What the Data tab's security tests share: "the attacker's server" (a real HTTP server on 127.0.0.1 that records
every request), an OpenAI-compatible judge stub for the owner's path, canary secrets, and the real app launched in
this process in a Space mode (the public demo, or a duplicated Space whose owner and visitors sign in through the
fake Hub's OAuth).
"""
from __future__ import annotations

import contextlib
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.ui.test_space_modes import SPACE_ENV

HF_CANARY = "hf_canary" + uuid.uuid4().hex  # the Space's HF_TOKEN
OAUTH_CANARY = "oauth-canary-" + uuid.uuid4().hex  # the Space's OAuth client secret
CANARIES = (HF_CANARY, OAUTH_CANARY)
OWNER_KEY_VAR, OWNER_KEY = "LAB_TEST_JUDGE_KEY", "owner-key-" + uuid.uuid4().hex  # an owner's own key variable
VISITOR = "visitor"  # a signed-in non-owner of the duplicated Space
ROWS = [{"instruction": f"Give a tip about topic number {i} please.", "input": "",
         "output": f"Tip {i}: take it slowly and practise every day."} for i in range(12)]


class Recorder:
    """A real HTTP server that records (method, path, headers with lower-case names, body) of every request and
    answers as an OpenAI-compatible chat endpoint ("Score: 4")."""

    def __init__(self):
        self.requests: list[tuple[str, str, dict, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(size).decode(errors="replace") if size else ""
                headers = {k.lower(): v for k, v in self.headers.items()}
                recorder.requests.append((self.command, self.path, headers, body))
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": "Score: 4"}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_HEAD = _any  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seen(self) -> str:
        """Everything every request carried, as one text."""
        return json.dumps(self.requests)

    def bearers(self) -> set[str]:
        return {h.get("authorization", "") for _, _, h, _ in self.requests}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def attacker():
    server = Recorder()
    yield server
    server.close()


def write_rows(path: Path, rows: list[dict] = ROWS) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def judge_recipe(recipe_yaml: str, **judge) -> str:
    """The recipe the tab made, with its LLM judge step switched on and set as given."""
    import yaml

    data = yaml.safe_load(recipe_yaml)
    for step in data["steps"]:
        if step["type"] == "judge":
            step.update({"enabled": True, "backend": "openai", "model": "judge", **judge})
    return yaml.safe_dump(data)


@contextlib.contextmanager
def space_app(scratch: Path, demo: bool, hub=None, env: dict | None = None):
    """The lab app in this process as a Space runs it, with the Space's secrets set to canaries. demo: the public
    demo (LAB_DEMO=1); else a duplicated Space owned by the fake Hub's user, which visitors sign in to."""
    import gradio.oauth

    from lab import auth, settings
    from tests.fakehub import use_fake_hub
    from tests.hardening.conftest import running_app

    values = {**SPACE_ENV, "OAUTH_CLIENT_SECRET": OAUTH_CANARY, "HF_TOKEN": HF_CANARY, **(env or {})}
    if demo:
        values["LAB_DEMO"] = "1"
    with pytest.MonkeyPatch.context() as mp:
        if hub is not None:
            use_fake_hub(mp, hub.url, scratch / "hf")
            values |= {"OPENID_PROVIDER_URL": hub.url, "SPACE_AUTHOR_NAME": hub.user}
        mp.setenv("LAB_HOME", str(scratch / "home"))
        mp.delenv("LAB_DEMO", raising=False)
        for name, value in {**values, "HF_TOKEN": HF_CANARY}.items():
            mp.setenv(name, value)
            if hasattr(gradio.oauth, name):
                mp.setattr(gradio.oauth, name, value)  # read once at gradio's import
        mp.setattr(auth, "_space_token", [])  # the app takes HF_TOKEN out of the environment into here
        settings.reset_caches()
        try:
            with running_app(max_size=256) as (demo_app, url):
                yield demo_app, url
        finally:
            settings.reset_caches()
