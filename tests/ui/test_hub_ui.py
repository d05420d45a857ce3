"""The Hub tab over HTTP (gradio_client): search goes through the server to the (fake) Hub; pushing is refused
without sign-in, even when called through the API, and runs as a job when signed in.
"""
import pytest
from gradio_client import Client

from lab import jobs
from lab.jobs import manager
from tests.hub_helpers import tiny_model_artifact


@pytest.fixture
def hub_app(fake_hub, app_url):  # the fake Hub first, so the app talks to it
    return fake_hub, Client(app_url, verbose=False)


def test_push_without_sign_in_is_refused_and_with_it_runs_as_a_job(hub_app, bundled_model, monkeypatch):
    hub, client = hub_app
    folder = tiny_model_artifact(bundled_model)
    with pytest.raises(Exception, match="signed in"):
        client.predict(str(folder), "tiny", True, False, api_name="/hub_push")
    assert not hub.exists("tester/tiny") and jobs.list_jobs() == []
    monkeypatch.setenv("HF_TOKEN", hub.token)  # signed in locally
    with pytest.raises(Exception, match="not an artifact"):  # the API never pushes arbitrary server folders
        client.predict("/etc", "tiny", True, False, api_name="/hub_push")
    assert jobs.list_jobs() == []
    job_id, message, *_ = client.predict(str(folder), "tiny", True, False, api_name="/hub_push")
    assert job_id in message
    assert manager.wait(job_id, 120).state == "succeeded"
    assert hub.meta("tester/tiny")["private"] is True


def test_search_runs_on_the_server_against_the_configured_hub(hub_app):
    hub, client = hub_app
    hub.seed("acme/chat-a", files={"config.json": b'{"architectures": ["LlamaForCausalLM"]}'}, downloads=5)
    hub.seed("acme/chat-b", files={"config.json": b'{"architectures": ["Qwen2ForCausalLM"]}'}, downloads=50)
    table, notice = client.predict("chat", "downloads", api_name="/hub_search")[:2]
    assert [row[0] for row in table["data"]] == ["acme/chat-b", "acme/chat-a"] and not notice
    assert table["data"][0][3] == "Qwen2ForCausalLM"


def test_model_facts_and_dataset_preview_endpoints(hub_app, bundled_model):
    hub, client = hub_app
    hub.seed("acme/smol", folder=bundled_model)
    line, facts = client.predict("acme/smol", api_name="/hub_model_facts")
    assert "LlamaForCausalLM" in line and "apache-2.0" in line and facts["layers"] == 30
    hub.seed("acme/pairs", files={"train.jsonl": b'{"prompt": "hi", "chosen": "a", "rejected": "b"}\n'},
             repo_type="dataset")
    caption, table = client.predict("acme/pairs", api_name="/hub_dataset_preview")
    assert "train.jsonl" in caption and table["headers"] == ["prompt", "chosen", "rejected"]
    assert table["data"] == [["hi", "a", "b"]]
