"""Publishing to the fake Hub: private repos with weights and a card, the token kept out of everything,
existing repos left alone, a failed upload cleaned up (and a retry that works), clear errors for bad input.
"""
import hashlib

import pytest
import yaml

from lab import settings
from lab.artifacts import read_manifest
from lab.errors import LabError
from lab.hub import dataset_preview, publish
from lab.hub.jobs import push_result, submit_push
from lab.jobs import manager
from tests.hub_helpers import dataset_artifact, files_containing, model_artifact, snapshot, tiny_model_artifact


def _sha(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def _card(path) -> dict:
    return yaml.safe_load(path.read_text().split("---", 2)[1])


def test_push_job_publishes_a_private_repo_with_weights_and_card_and_never_the_token(
        fake_hub, bundled_model, monkeypatch, lab_home, tmp_path):
    monkeypatch.setenv("HF_TOKEN", fake_hub.token)  # a token is set, as on a signed-in machine
    from lab.auth import local_token

    folder = model_artifact(bundled_model)
    job = submit_push(folder, "smol-sft", local_token(), artifacts_only=True)
    job = manager.wait(job.id, 180)
    assert job.state == "succeeded", job.error
    repo = "tester/smol-sft"
    assert push_result(job)["url"] == f"{fake_hub.url}/{repo}"
    assert fake_hub.meta(repo)["private"] is True
    pushed = fake_hub.files(repo)
    assert _sha(pushed / "model.safetensors") == _sha(folder / "model.safetensors")
    meta = _card(pushed / "README.md")
    assert meta["base_model"] == ["HuggingFaceTB/SmolLM2-135M-Instruct"]
    assert {"lab", "trl", "sft"} <= set(meta["tags"]) and meta["license"] == "apache-2.0"
    assert "tester/smol-sft" in (pushed / "README.md").read_text()
    assert not (pushed / "job.log").exists()
    assert job.progress == 1.0 and job.message.startswith("Published")
    assert "Created private model repo tester/smol-sft" in job.log_path.read_text()
    assert "path" not in str(read_manifest(pushed).get("parents"))  # no local paths published
    # the token is nowhere: job records, recipes, logs, cards, manifests, the pushed files, the HF cache
    assert job.recipe.find(fake_hub.token) < 0
    token = fake_hub.token.encode()
    assert files_containing(lab_home, token) == []
    assert files_containing(fake_hub.root / "repos", token) == []
    assert files_containing(tmp_path / "hf", token) == []
    # locally, the manifest and card now name the repo (children will cite it)
    assert read_manifest(folder)["hub_repo"] == repo and repo in (folder / "README.md").read_text()


def test_existing_repo_is_refused_without_overwrite_and_nothing_changes(fake_hub, bundled_model):
    folder = tiny_model_artifact(bundled_model, seed=1)
    publish(folder, "tiny", fake_hub.token)
    remote_before, local_before = fake_hub.meta("tester/tiny"), snapshot(folder)
    other = tiny_model_artifact(bundled_model, "tiny-2", seed=2)
    other_before = snapshot(other)
    with pytest.raises(LabError, match="already exists") as e:
        publish(other, "tiny", fake_hub.token)
    assert e.value.field == "repo" and "overwrite" in e.value.fix
    assert fake_hub.meta("tester/tiny")["sha"] == remote_before["sha"]
    assert snapshot(folder) == local_before and snapshot(other) == other_before
    # with overwrite, the repo gets the new files
    publish(other, "tiny", fake_hub.token, overwrite=True)
    assert _sha(fake_hub.files("tester/tiny") / "model.safetensors") == _sha(other / "model.safetensors")


def test_failed_upload_deletes_the_new_repo_and_a_retry_works(fake_hub, bundled_model):
    folder = tiny_model_artifact(bundled_model)
    before = snapshot(folder)
    fake_hub.fail("lfs_put")
    with pytest.raises(LabError, match="507"):
        publish(folder, "tiny", fake_hub.token)
    assert not fake_hub.exists("tester/tiny")
    assert ("PUT" in {m for m, _ in fake_hub.requests})  # it failed midway, after the repo was made
    assert snapshot(folder) == before  # nothing local lost or changed
    url = publish(folder, "tiny", fake_hub.token)
    assert url.endswith("/tester/tiny") and (fake_hub.files("tester/tiny") / "model.safetensors").is_file()


def test_dataset_artifact_becomes_a_dataset_repo_that_previews(fake_hub, alpaca_path):
    import json

    rows = json.loads(alpaca_path.read_text())[:30]
    folder = dataset_artifact(rows)
    url = publish(folder, "alpaca-clean", fake_hub.token, private=False)
    assert url == f"{fake_hub.url}/datasets/tester/alpaca-clean"
    assert fake_hub.meta("tester/alpaca-clean", "dataset")["private"] is False
    meta = _card(fake_hub.files("tester/alpaca-clean", "dataset") / "README.md")
    assert meta["datasets"] == ["tatsu-lab/alpaca"] and "base_model" not in meta and "lab" in meta["tags"]
    preview = dataset_preview("tester/alpaca-clean", 5, token=fake_hub.token)
    assert preview["rows"] == rows[:5] and preview["file"] == "data.jsonl"


def test_bad_input_gets_clear_errors_and_creates_nothing(fake_hub, bundled_model, tmp_path):
    folder = tiny_model_artifact(bundled_model)
    cases = [
        (dict(repo="my model", token=fake_hub.token), "repo", "only letters"),
        (dict(repo="tiny", token=None), "sign-in", "signed in"),
        (dict(repo="tiny", token="hf_not_a_valid_token"), "sign-in", "rejected your Hugging Face token"),
        (dict(repo="someone-else/tiny", token=fake_hub.token), "repo", "no write access"),
    ]
    for kwargs, field, words in cases:
        with pytest.raises(LabError) as e:
            publish(folder, **kwargs)
        assert e.value.field == field and words in str(e.value), str(e.value)
    with pytest.raises(LabError, match="not an artifact of this lab"):
        submit_push(tmp_path, "tiny", fake_hub.token, artifacts_only=True)
    with pytest.raises(LabError, match="signed in"):
        submit_push(folder, "tiny", None, artifacts_only=True)
    assert not fake_hub.exists("tester/tiny") and not fake_hub.exists("someone-else/tiny")
    fake_hub.stop()
    settings.reset_caches()
    with pytest.raises(LabError, match="unreachable") as e:
        publish(folder, "tiny", fake_hub.token)
    assert e.value.field == "hub"


def test_published_recipe_manifest_and_card_name_no_local_paths(fake_hub, bundled_model, lab_home):
    """A recipe and lineage that name this machine's folders: the Hub gets 'NAME (local)', the folder keeps them."""
    from lab.artifacts import finalize

    folder = tiny_model_artifact(bundled_model, "paths")
    data = lab_home / "artifacts" / "arithmetic-sums" / "data.jsonl"
    reward = r"format:^\s*<answer>\s*-?\d+\s*</answer>\s*$"
    recipe = (f"# made by the lab\nmethod: grpo\nmodel: {bundled_model}\ndataset: {data}\n"
              f"rewards:\n- '{reward}'\n- exact\n")
    finalize(folder, "model", [{"ref": str(bundled_model), "kind": "model", "license": "apache-2.0"}],
             recipe=recipe, step="grpo")
    publish(folder, "paths", fake_hub.token)
    pushed = fake_hub.files("tester/paths")
    for secret in (str(bundled_model), str(lab_home), str(lab_home.parent)):
        assert files_containing(pushed, secret.encode()) == [], secret
    text = (pushed / "recipe.yaml").read_text()
    assert text.startswith("# made by the lab") and f"model: {bundled_model.name} (local)" in text
    assert yaml.safe_load(text)["rewards"] == [reward, "exact"] and "data.jsonl (local)" in text
    assert f"{bundled_model.name} (local)" in (pushed / "README.md").read_text()
    assert read_manifest(pushed)["parents"][0]["ref"] == f"{bundled_model.name} (local)"
    assert (folder / "recipe.yaml").read_text() == recipe  # the local folder keeps what reproduces the run
