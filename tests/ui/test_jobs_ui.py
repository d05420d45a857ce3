"""The Jobs endpoints driven over HTTP with gradio_client: progress and cancel both work."""
import time

import httpx
from gradio_client import Client

from lab import jobs
from lab.jobs import manager

jobs.register_kind("test.ui.count", "tests.runners:count", heavy=True)


def test_job_progress_and_cancel_through_the_api(app_url):
    client = Client(app_url, verbose=False)
    job = jobs.submit("test.ui.count", {"n": 300, "sleep": 0.05}, title="UI count")
    seen = []
    deadline = time.time() + 30
    while time.time() < deadline:
        d = client.predict(job.id, api_name="/job_show")
        seen.append(d["progress"])
        if d["progress"] > 0.02:
            break
        time.sleep(0.2)
    assert d["state"] == "running" and d["progress"] > 0 and "step" in d["log_tail"]
    listed = client.predict(api_name="/jobs_list")
    assert any(j["id"] == job.id for j in listed)
    assert "Cancelling" in client.predict(job.id, api_name="/job_cancel")
    assert manager.wait(job.id, 30).state == "cancelled"
    assert "already finished" in client.predict(job.id, api_name="/job_cancel")


def test_model_info_endpoint(app_url, bundled_model):
    client = Client(app_url, verbose=False)
    line, facts = client.predict("HuggingFaceTB/SmolLM2-135M-Instruct", api_name="/model_info")
    assert facts["layers"] == 30 and "LlamaForCausalLM" in line


def test_internal_events_are_not_public(app_url):
    info = httpx.get(app_url + "gradio_api/info").json()
    names = set(info["named_endpoints"])
    assert {"/job_show", "/job_cancel", "/jobs_list"} <= names
    # internal events (timers, page load, row select) are private: their default names never appear
    internal = {"/refresh", "/load", "/select", "/tick", "/lambda"}
    assert not [n for n in names if n in internal or n.startswith("/lambda") or n.startswith("/refresh")], names
