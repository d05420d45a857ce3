"""The app as the security tests attack it: launched in this process in Space mode against the fake Hub, which is
also its OpenID provider, so a test signs in as any account (the Space's owner, a visitor) or stays anonymous.

    with space_app(root, before=make_artifacts, canary=TOKEN) as space:   # in a module-scoped `space` fixture
        space.client("bob").predict(..., api_name="/model_info")        # bob signed in
        space.client().predict(...)                                      # an anonymous visitor
        space.event("lab.ui.merge_tab", "check", {0: yaml}, user="bob")  # a private event, as the page sends it

A test module defines a module-scoped `space` fixture and imports `space_env` (autouse: it puts LAB_HOME back to
the Space's for each test). `canary`: the Space's own HF_TOKEN secret, a token the fake Hub knows as the owner's; no request made for a visitor
may carry it (space.hub.auth_log). The owner is OWNER (SPACE_AUTHOR_NAME); VISITOR and OTHER are two more accounts.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

OWNER, VISITOR, OTHER = "alice", "bob", "carol"
PRIVATE_REPO = f"{OWNER}/secret-model"
FILTER = pytest.mark.filterwarnings(  # Gradio's Spaces hot-reloader thread wants the `spaces` package: harmless
    "ignore:(?s)Exception in thread.*spaces. package is required:pytest.PytestUnhandledThreadExceptionWarning")


@dataclass
class Space:
    demo: object
    url: str
    hub: object
    home: Path
    canary: str = ""
    _headers: dict = field(default_factory=dict)

    def headers(self, user: str | None) -> dict:
        """The session cookie of `user` signed in (None: anonymous)."""
        from tests.space_signin import sign_in

        if user is None:
            return {}
        if user not in self._headers:
            self._headers[user] = sign_in(self.url, user=user)
        return self._headers[user]

    def client(self, user: str | None = None) -> Client:
        return Client(self.url, verbose=False, headers=self.headers(user) or None)

    def fn(self, module: str, name: str) -> tuple[int, list]:
        """The function index and default input values of an event handler (private ones too)."""
        for index, fn in self.demo.fns.items():
            inner = getattr(fn.fn, "__wrapped__", fn.fn)
            if getattr(inner, "__module__", "") == module and getattr(inner, "__name__", "") == name:
                return index, [getattr(c, "value", None) for c in fn.inputs]
        raise AssertionError(f"no event handler {module}.{name}")

    def event(self, module: str, name: str, values: dict | None = None, user: str | None = None,
              session: str = "") -> tuple[object, bool]:
        """Call an event handler straight through the queue, as the page (or a hostile client) does; returns
        (output data, False) or (error message, True)."""
        index, data = self.fn(module, name)
        data = [(values or {}).get(i, v) for i, v in enumerate(data)]
        session = session or f"sec-{index}-{user or 'anon'}"
        with httpx.Client(base_url=self.url, timeout=180, headers=self.headers(user)) as http:
            http.post("gradio_api/queue/join", json={"data": data, "fn_index": index, "session_hash": session,
                                                     "event_data": None, "trigger_id": None}).raise_for_status()
            with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
                for line in stream.iter_lines():
                    msg = json.loads(line[5:]) if line.startswith("data:") else {}
                    if msg.get("msg") == "process_completed":
                        out = msg.get("output") or {}
                        if not msg.get("success"):
                            return str(out.get("error") or ""), True
                        return out.get("data"), False
        raise AssertionError("the queue never completed the call")


@contextlib.contextmanager
def space_app(root: Path, demo_mode: bool = False, canary: str = "", before=None, private_model: Path | None = None):
    """The app as a duplicated Space of OWNER runs it (LAB_DEMO=1 with demo_mode), in this process. `before(home)`
    makes what must exist at start (artifacts, votes); `private_model` is pushed as OWNER's private PRIVATE_REPO."""
    import gradio.oauth
    import huggingface_hub.constants as hub_constants

    from lab import auth, hardware, settings
    from tests.fakehub import FakeHub, use_fake_hub
    from tests.hardening.conftest import running_app
    from tests.ui.test_space_modes import SPACE_ENV

    hub = FakeHub(root / "hub").start()
    for user in (OWNER, VISITOR, OTHER):
        hub.add_user(user, token=canary if user == OWNER and canary else None)
    if private_model is not None:
        hub.seed(PRIVATE_REPO, folder=private_model, private=True)
    with pytest.MonkeyPatch.context() as mp:
        use_fake_hub(mp, hub.url, root / "hf")
        home = root / "home"
        mp.setenv("LAB_HOME", str(home))
        env = {**SPACE_ENV, "OPENID_PROVIDER_URL": hub.url, "SPACE_AUTHOR_NAME": OWNER,
               "HF_HUB_DISABLE_IMPLICIT_TOKEN": "0"}  # noted, so the app's start-up setting is undone after
        if demo_mode:
            env["LAB_DEMO"] = "1"
        for name, value in env.items():
            mp.setenv(name, value)
            if hasattr(gradio.oauth, name):
                mp.setattr(gradio.oauth, name, value)  # read once at gradio's import
        mp.setattr(hub_constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", hub_constants.HF_HUB_DISABLE_IMPLICIT_TOKEN)
        mp.delenv("LAB_OWNERS", raising=False)
        if canary:
            mp.setenv("HF_TOKEN", canary)  # the Space's own secret; the app takes it out of its environment
        settings.reset_caches()
        hardware.set_hardware(None)
        if before is not None:
            before(home)
        try:
            with running_app(max_size=256) as (demo, url):
                yield Space(demo, url, hub, home, canary)
        finally:
            auth._space_token.clear()
            hub.stop()
            settings.reset_caches()
            hardware.set_hardware(None)


@pytest.fixture(autouse=True)
def space_env(space, lab_home, monkeypatch):
    """Each test's fresh LAB_HOME (tests/conftest.py) is put back to the module's running Space's, online."""
    from lab import settings

    monkeypatch.setenv("LAB_HOME", str(space.home))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    settings.reset_caches()
    yield
    settings.reset_caches()


def texts(value) -> str:
    """Every string in an output (nested lists and dicts), as one text to search."""
    if isinstance(value, dict):
        return " ".join(texts(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return " ".join(texts(v) for v in value)
    return "" if value is None else str(value)


def make_artifact(home: Path, name: str, kind: str, owner: str, adapter_base: str = "", tiny: Path | None = None,
                  shared: bool = False) -> Path:
    """An artifact in LAB_HOME/artifacts owned by `owner` (a lab.access key): a model (a copy of `tiny`, or a
    config alone) or an adapter whose adapter_config names `adapter_base`."""
    import shutil

    folder = home / "artifacts" / name
    folder.mkdir(parents=True)
    if kind == "adapter":
        (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": adapter_base,
                                                                "peft_type": "LORA", "r": 4}))
    elif tiny is not None:
        for f in tiny.iterdir():
            shutil.copyfile(f, folder / f.name)
    else:
        (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                                                        "hidden_size": 64, "num_hidden_layers": 2,
                                                        "num_attention_heads": 4, "vocab_size": 100}))
    (folder / "lab.json").write_text(json.dumps({"kind": kind, "name": name, "parents": [], "lineage": [],
                                                 "owner": owner, "shared": shared, "created": 1.0}))
    return folder
