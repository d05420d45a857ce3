"""The Data tab on a duplicated Space, for signed-in visitors who are not its owner (findings 3, 4 and 7): what they
export and the data jobs they start are theirs (marked with their name) and shown without a server path; a recipe
naming another visitor's upload is refused; Hub calls carry the visitor's own token, never the Space's."""
from __future__ import annotations

import json

import pytest
import yaml
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from lab import jobs, settings
from tests.security.data_support import HF_CANARY, VISITOR, space_app, write_rows
from tests.space_signin import sign_in

pytestmark = pytest.mark.filterwarnings(
    "ignore:(?s)Exception in thread.*spaces. package is required:pytest.PytestUnhandledThreadExceptionWarning")
OTHER = "other-visitor"


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    from tests.fakehub import FakeHub

    scratch = tmp_path_factory.mktemp("space")
    hub = FakeHub(scratch / "hub").start()
    tokens = {VISITOR: hub.add_user(VISITOR), OTHER: hub.add_user(OTHER)}
    hub.seed("acme/rows", files={"data/train.jsonl": b'{"instruction": "Hi?", "input": "", "output": "Hello."}\n'},
             repo_type="dataset")
    hub.seed("tatsu-lab/alpaca", files={"data/train.jsonl": b"".join(  # a ready-made starting point, small here
        json.dumps({"instruction": f"Add {i} and 1.", "input": "", "output": str(i + 1)}).encode() + b"\n"
        for i in range(3))}, repo_type="dataset")
    hub.seed("acme/reward", files={"config.json": b'{"model_type": "llama"}'})  # visible to all; never loads
    with space_app(scratch, demo=False, hub=hub) as (_app, url):
        yield hub, url, tokens
    hub.stop()


@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    settings.reset_caches()


def _client(url: str, user: str) -> Client:
    return Client(url, verbose=False, headers=sign_in(url, user=user))


def _load(client: Client, path) -> str:
    return client.predict([handle_file(str(path))], "", "", "train", None, "auto", api_name="/data_load")[2]


def test_a_visitors_export_is_theirs_and_names_no_server_path(space, tmp_path, lab_home, online):
    _, url, _ = space
    client = _client(url, VISITOR)
    recipe = _load(client, write_rows(tmp_path / "mine.jsonl"))
    client.predict(recipe=recipe, api_name="/data_run")
    status, download = client.predict(name="mine-clean", api_name="/data_export")
    assert "mine-clean" in status and str(lab_home) not in status and "/" not in status.replace("/v1", "")
    (folder,) = (lab_home / "artifacts").iterdir()
    manifest = json.loads((folder / "lab.json").read_text())
    assert manifest["owner"] == VISITOR
    assert "upload:" in (folder / "recipe.yaml").read_text() and str(lab_home) not in (folder / "recipe.yaml").read_text()


def test_a_visitors_data_job_is_theirs(space, tmp_path, lab_home, online):
    _, url, _ = space
    client = _client(url, VISITOR)
    recipe = yaml.safe_load(_load(client, write_rows(tmp_path / "mine.jsonl")))
    recipe["steps"] = [{"type": "reward", "model": "acme/reward", "top_percent": 50}]  # a model: a job
    out = client.predict(recipe=yaml.safe_dump(recipe), api_name="/data_run")
    job = jobs.get_job(out[1])
    jobs.cancel(job.id)  # its model has no weights; nothing more to see
    assert job.owner == VISITOR and str(lab_home) not in job.recipe and "upload:" in job.recipe


def test_a_recipe_naming_another_visitors_upload_is_refused(space, tmp_path, online):
    _, url, _ = space
    mine = _load(_client(url, VISITOR), write_rows(tmp_path / "secret.jsonl"))
    ref = yaml.safe_load(mine)["sources"][0]["path"]
    other = _client(url, OTHER)
    theirs = _load(other, write_rows(tmp_path / "theirs.jsonl", [{"instruction": "x", "input": "", "output": "y"}]))
    stolen = theirs.replace(yaml.safe_load(theirs)["sources"][0]["path"], ref)
    for api in ("/data_run", "/data_explore"):
        with pytest.raises(AppError) as err:
            other.predict(recipe=stolen, api_name=api)
        assert "secret" not in str(err.value) or "did not load" in str(err.value)


def test_hub_previews_carry_the_visitors_own_token_never_the_spaces(space, online):
    hub, url, tokens = space
    hub.auth_log.clear()
    rows = _client(url, VISITOR).predict("acme/rows", "", "train", api_name="/data_hub_preview")
    assert rows and rows[0]["output"] == "Hello."
    Client(url, verbose=False).predict("acme/rows", "", "train", api_name="/data_hub_preview")  # anonymous
    assert HF_CANARY not in hub.tokens_seen() and hub.tokens_seen() <= {tokens[VISITOR]}


def test_a_ready_made_hub_dataset_loads_in_one_click_with_the_visitors_own_token(space, lab_home, online):
    hub, url, tokens = space
    hub.auth_log.clear()
    status, preview, recipe, *_, hub_id, config, split, limit = _client(url, VISITOR).predict(
        "alpaca", "auto", api_name="/data_starter")
    assert "Loaded **3** rows" in status and "Add 0 and 1." in json.dumps(preview)
    assert (hub_id, split, limit) == ("tatsu-lab/alpaca", "train", 1000)  # the form says what was loaded
    assert [s["hub"] for s in yaml.safe_load(recipe)["sources"]] == ["tatsu-lab/alpaca"]
    assert HF_CANARY not in hub.tokens_seen() and hub.tokens_seen() <= {tokens[VISITOR]}


def test_the_tours_demo_set_loads_in_one_click_as_the_callers_own_upload(space, lab_home):
    from lab.tour.demo_data import demo_rows

    _, url, _ = space
    status, _, recipe, *_ = Client(url, verbose=False).predict("tour", "auto", api_name="/data_starter")  # anonymous
    assert f"Loaded **{len(demo_rows()[0])}** rows" in status
    assert yaml.safe_load(recipe)["sources"][0]["path"].startswith("upload:") and str(lab_home) not in recipe
    with pytest.raises(AppError, match="not in the list of choices|No starting point"):
        Client(url, verbose=False).predict("../../etc/passwd", "auto", api_name="/data_starter")
