"""A signed-in visitor on a duplicated Space acts with their own OAuth token (the fake Hub is the OpenID
provider); the anonymous visitor beside them is still refused."""
import json

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from lab import jobs, settings
from tests.hardening.conftest import running_app, wait_for
from tests.hub_helpers import tiny_model_artifact
from tests.space_signin import sign_in
from tests.ui.test_space_modes import SPACE_ENV

pytestmark = pytest.mark.filterwarnings(
    "ignore:(?s)Exception in thread.*spaces. package is required:pytest.PytestUnhandledThreadExceptionWarning")


def test_a_signed_in_visitor_publishes_with_their_own_token(fake_hub, bundled_model, monkeypatch):
    import gradio.oauth

    for name, value in {**SPACE_ENV, "OPENID_PROVIDER_URL": fake_hub.url}.items():
        monkeypatch.setenv(name, value)
        if hasattr(gradio.oauth, name):
            monkeypatch.setattr(gradio.oauth, name, value)  # read once at gradio's import
    settings.reset_caches()
    artifact = tiny_model_artifact(bundled_model, name="mine")
    manifest = json.loads((artifact / "lab.json").read_text())
    (artifact / "lab.json").write_text(json.dumps({**manifest, "owner": fake_hub.user}))  # the visitor made it
    fake_hub.add_user("mallory")
    with running_app() as (_demo, url):
        with pytest.raises(AppError, match="needs you signed in"):
            Client(url, verbose=False).predict(artifact.name, "anon", True, False, api_name="/hub_push")
        other = Client(url, verbose=False, headers=sign_in(url, user="mallory"))
        with pytest.raises(AppError, match="not an artifact of this lab"):  # another visitor's: as if not there
            other.predict(artifact.name, "theirs", True, False, api_name="/hub_push")
        signed_in = Client(url, verbose=False, headers=sign_in(url))
        job_id = signed_in.predict(artifact.name, "mine", True, False, api_name="/hub_push")[0]
        job = wait_for(lambda: (j := jobs.get_job(job_id)).final and j, 120, "the push job")
    assert job.state == "succeeded", job.error
    assert fake_hub.exists(f"{fake_hub.user}/mine") and not fake_hub.exists(f"{fake_hub.user}/anon")
    assert not fake_hub.exists("mallory/theirs")
    assert (fake_hub.files(f"{fake_hub.user}/mine") / "model.safetensors").is_file()
