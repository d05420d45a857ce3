"""On a Space, privileged actions called through the API without signing in are refused with a clear message,
and nothing happens: no job is submitted, resumed or cancelled, and the artifact is still there.

Public endpoints are called with gradio_client; the private events the page uses (merge run, train start…) are
called the way a browser, or a hostile client, does: straight into the queue by function index.
"""
from __future__ import annotations

import json

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from lab import jobs, settings
from lab.jobs import store
from tests.hardening.conftest import running_app
from tests.hub_helpers import tiny_model_artifact
from tests.ui.test_space_modes import SPACE_ENV

SIGN_IN = "needs you signed in"
# Space mode starts Gradio's Spaces hot-reloader thread, which fails without the `spaces` package (harmless).
pytestmark = pytest.mark.filterwarnings(
    "ignore:(?s)Exception in thread.*spaces. package is required:pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture
def space_app(monkeypatch, lab_home):
    """The app as a duplicated Space runs it (heavy work on, OAuth on), launched in this process."""
    import gradio.oauth

    for name, value in SPACE_ENV.items():
        monkeypatch.setenv(name, value)
        if hasattr(gradio.oauth, name):
            monkeypatch.setattr(gradio.oauth, name, value)  # read once at gradio's import
    monkeypatch.delenv("HF_TOKEN", raising=False)
    settings.reset_caches()
    assert settings.get_settings().on_space and settings.get_settings().heavy_allowed
    with running_app() as (demo, url):
        yield demo, url


def _private_fn(demo, module: str, name: str):
    """The function index and default input values of a private event handler."""
    for index, fn in demo.fns.items():
        inner = getattr(fn.fn, "__wrapped__", fn.fn)
        if getattr(inner, "__module__", "") == module and getattr(inner, "__name__", "") == name:
            return index, [getattr(c, "value", None) for c in fn.inputs]
    raise AssertionError(f"no event handler {module}.{name}")


def _call_queue(url: str, fn_index: int, data: list) -> dict:
    """Join the queue as the page does and return the final message."""
    session = f"hostile-{fn_index}"
    with httpx.Client(base_url=url, timeout=60) as http:
        r = http.post("gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session,
                                                     "event_data": None, "trigger_id": None})
        r.raise_for_status()
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                msg = json.loads(line[5:]) if line.startswith("data:") else {}
                if msg.get("msg") == "process_completed":
                    return msg
    raise AssertionError("the queue never completed the call")


def test_privileged_actions_without_sign_in_are_refused(space_app, bundled_model, mini_data):
    demo, url = space_app
    artifact = tiny_model_artifact(bundled_model, name="keep-me")
    failed = store.create("train.sft", "lab.train.worker:run", True, "dataset: x\n", "an earlier run")
    with store.connect(immediate=True) as con:
        store.set_state(con, failed.id, "running", started=1.0)
        store.set_state(con, failed.id, "failed", finished=2.0, error="boom")
    client = Client(url, verbose=False)
    train_yaml = f"dataset: {mini_data}\nmax_steps: 1\n"
    data_yaml = f"sources:\n  - path: {mini_data}\nsteps:\n  - type: exact_dedup\n"
    public = {"/hub_push": (str(artifact), "stolen", True, False), "/artifact_delete": (str(artifact), True),
              "/train_start": (train_yaml,), "/data_run": (data_yaml,), "/model_prepare": ("acme/model",),
              "/job_resume": (failed.id,), "/job_cancel": (failed.id,)}
    for api_name, args in public.items():
        with pytest.raises(AppError, match=SIGN_IN):
            client.predict(*args, api_name=api_name)
    merge_yaml = f"merge_method: passthrough\nslices:\n  - sources:\n      - model: {bundled_model}\n" \
                 "        layer_range: [0, 2]\n"
    private = {("lab.ui.merge_tab", "run"): {0: merge_yaml}, ("lab.ui.merge_tab", "cancel"): {0: failed.id},
               ("lab.ui.train_events", "start"): {}, ("lab.ui.train_events", "go"): {},
               ("lab.ui.train_events", "resume"): {0: failed.id}, ("lab.ui.train_events", "cancel"): {0: failed.id}}
    for (module, name), values in private.items():
        index, data = _private_fn(demo, module, name)
        data = [values.get(i, v) for i, v in enumerate(data)]
        msg = _call_queue(url, index, data)
        assert msg.get("success") is False and SIGN_IN in json.dumps(msg), (module, name, msg)
    assert [(j.id, j.state) for j in jobs.list_jobs()] == [(failed.id, "failed")]  # nothing submitted or resumed
    assert (artifact / "lab.json").is_file() and (artifact / "model.safetensors").is_file()
