"""Finding 4: on a shared Space, visitors saw and touched each other's work. Now a visitor lists, shows, cancels,
resumes and deletes only their own jobs and artifacts (plus what the owner shared, to watch and use), gets the same
answer for another's as for one that does not exist, and never sees a server path in a job record."""
from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gradio_client.exceptions import AppError
from safetensors.torch import load_file

from lab import jobs
from lab.artifacts import finalize, new_folder, parent_entry
from lab.access import caller_for
from lab.errors import LabError
from lab.jobs import manager, store
from lab.ui import downloads
from tests.security.conftest import OWNER
from tests.security.spaces import Space

pytestmark = pytest.mark.filterwarnings(  # Gradio's Spaces hot-reloader wants the `spaces` package: harmless
    "ignore:(?s)Exception in thread.*spaces. package is required:pytest.PytestUnhandledThreadExceptionWarning")
jobs.register_kind("test.sec.count", "tests.runners:count", heavy=False)


def _job(owner: str, upload: str = ""):
    recipe = {"n": 400, "sleep": 0.05, **({"dataset": upload} if upload else {})}
    return jobs.submit("test.sec.count", recipe, title=f"{owner}'s run", owner=owner)


def _artifact(owner: str, name: str):
    folder = new_folder("dataset", name)
    (folder / "data.jsonl").write_text(json.dumps({"prompt": "p", "completion": "c"}) + "\n")
    finalize(folder, "dataset", [], recipe={"rows": 1}, owner=owner)
    return folder


def _listed(client) -> set[str]:
    return {j["id"] for j in client.predict(api_name="/jobs_list")}


def test_a_visitor_sees_and_stops_only_their_own_jobs(space, lab_home):
    upload = str(lab_home / "uploads" / "0123456789abcdef" / "secret-rows.jsonl")
    alice_job = _job("alice", upload)
    try:
        alice, bob, anon, owner = (space.client("alice"), space.client("bob"), space.client(),
                                   space.client(OWNER))
        assert alice_job.id in _listed(alice) and alice_job.id in _listed(owner)
        assert alice_job.id not in _listed(bob) and alice_job.id not in _listed(anon)
        for client in (bob, anon):
            for api in ("/job_show", "/job_cancel", "/job_resume"):
                with pytest.raises(AppError, match="No job|needs you signed in"):
                    client.predict(alice_job.id, api_name=api)
        with pytest.raises(AppError) as unknown:  # the same answer as for a job that does not exist
            bob.predict("20990101-000000-abcdef", api_name="/job_show")
        with pytest.raises(AppError) as theirs:
            bob.predict(alice_job.id, api_name="/job_show")
        assert str(unknown.value).replace("20990101-000000-abcdef", "ID") == \
            str(theirs.value).replace(alice_job.id, "ID")
        shown = json.dumps(alice.predict(alice_job.id, api_name="/job_show"))
        assert str(lab_home) not in shown and "secret-rows.jsonl" in shown  # named, not placed

        assert "shared with every visitor" in owner.predict(alice_job.id, True, api_name="/job_share")
        assert alice_job.id in _listed(bob)  # to watch...
        with pytest.raises(AppError, match="for the job's owner"):  # ...not to stop
            bob.predict(alice_job.id, api_name="/job_cancel")
        with pytest.raises(AppError, match="owner of this Space only"):
            alice.predict(alice_job.id, False, api_name="/job_share")
        assert "Cancelling" in alice.predict(alice_job.id, api_name="/job_cancel")
        assert manager.wait(alice_job.id, 60).state == "cancelled"
    finally:
        jobs.cancel(alice_job.id)


def test_a_visitor_uses_and_deletes_only_their_own_artifacts(space, lab_home):
    mine, theirs = _artifact("alice", "alice-rows"), _artifact("bob", "bob-rows")
    alice, bob, owner = space.client("alice"), space.client("bob"), space.client(OWNER)
    names = lambda c: {row[-1] for row in c.predict("all", api_name="/artifacts_list")["data"]}  # noqa: E731
    assert names(alice) == {"alice-rows"} and names(bob) == {"bob-rows"}
    assert names(owner) == {"alice-rows", "bob-rows"}
    assert all(str(lab_home) not in json.dumps(c.predict("all", api_name="/artifacts_list"))
               for c in (alice, owner))
    for api, args in (("/artifact_card", ()), ("/artifact_lineage", (None,)), ("/artifact_delete", (True,))):
        for ref in ("bob-rows", str(theirs)):
            with pytest.raises(AppError, match="not an artifact of this lab"):
                alice.predict(ref, *args, api_name=api)
    assert theirs.is_dir()
    owner.predict("bob-rows", True, api_name="/artifact_share")
    assert "bob-rows" in names(alice)
    alice.predict("bob-rows", api_name="/artifact_card")  # shared: alice may read and use it...
    with pytest.raises(AppError, match="for the artifact's owner"):  # ...not delete it
        alice.predict("bob-rows", True, api_name="/artifact_delete")
    assert "Deleted" in alice.predict("alice-rows", True, api_name="/artifact_delete")[0]
    assert not mine.exists() and theirs.is_dir()


def test_an_anonymous_visitor_of_a_space_changes_nothing(space, lab_home):
    _artifact("alice", "kept")
    anon = space.client()
    with pytest.raises(AppError, match="needs you signed in"):
        anon.predict("kept", True, api_name="/artifact_delete")
    with pytest.raises(AppError, match="needs you signed in"):
        anon.predict("sources:\n  - path: x.jsonl\n", api_name="/train_start")
    assert (lab_home / "artifacts" / "kept").is_dir()


def _adapter_artifact(owner: str, name: str, adapter, base) -> Path:
    """A real LoRA adapter (the secret-word one) as `owner`'s artifact, with a training checkpoint beside it."""
    folder = new_folder("adapter", name)
    for f in adapter.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    (folder / "checkpoint-10").mkdir()
    (folder / "checkpoint-10" / "optimizer.pt").write_bytes(b"\0" * 64)
    finalize(folder, "adapter", [parent_entry(str(base))], recipe={"model": str(base)}, owner=owner)
    return folder


def test_the_owner_downloads_an_adapter_as_a_zip_that_loads_and_no_one_else_does(space, lab_home, lora_adapter,
                                                                                  bundled_model, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    folder = _adapter_artifact("alice", "alice-adapter", lora_adapter, bundled_model)
    raw = Space(demo=space.demo, url=space.url, hub=space.hub, home=lab_home, _headers=space.headers)
    data, failed = raw.event("lab.ui.downloads", "download", {0: "alice-adapter"}, user="alice")
    assert not failed, data
    offered = json.dumps(data)
    assert "alice-adapter.zip" in offered and str(lab_home) not in offered and str(bundled_model) not in offered

    [got] = space.client("alice").predict("alice-adapter", api_name="/artifact_download")
    assert Path(got).name == "alice-adapter.zip"
    with zipfile.ZipFile(got) as z:
        names = z.namelist()
        texts = " ".join(z.read(n).decode(errors="replace") for n in names if n.endswith((".json", ".md", ".yaml")))
        z.extractall(tmp_path)
    assert "alice-adapter/adapter_model.safetensors" in names and not any("checkpoint-" in n for n in names)
    assert str(lab_home) not in texts and str(bundled_model) not in texts  # no server path inside either
    base = AutoModelForCausalLM.from_pretrained(bundled_model, dtype=torch.float32)
    loaded = PeftModel.from_pretrained(base, tmp_path / "alice-adapter")
    mine = {k: v for k, v in loaded.state_dict().items() if "lora_" in k}
    original = load_file(lora_adapter / "adapter_model.safetensors")
    assert len(mine) == len(original) > 0
    assert all(torch.equal(v, original[k.replace(".default", "")]) for k, v in mine.items())

    for who in ("bob", None):  # another visitor, an anonymous one: the same as no such artifact
        for ref in ("alice-adapter", str(folder)):
            with pytest.raises(AppError, match="not an artifact of this lab"):
                space.client(who).predict(ref, api_name="/artifact_download")
    assert Path(space.client(OWNER).predict("alice-adapter", api_name="/artifact_download")[0]).name == \
        "alice-adapter.zip"


def test_a_gguf_export_downloads_as_its_gguf_file(space, lab_home):
    import gguf

    folder = new_folder("gguf", "alice-gguf")
    writer = gguf.GGUFWriter(str(folder / "tiny-q8_0.gguf"), "llama")
    writer.add_tensor("token_embd.weight", np.arange(64, dtype=np.float32).reshape(8, 8))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    finalize(folder, "gguf", [], recipe={"types": ["q8_0"]}, owner="alice")
    [got] = space.client("alice").predict("alice-gguf", api_name="/artifact_download")
    assert Path(got).name == "tiny-q8_0.gguf"
    assert Path(got).read_bytes() == (folder / "tiny-q8_0.gguf").read_bytes()
    read = gguf.GGUFReader(got)
    assert np.array_equal(np.asarray(read.tensors[0].data).reshape(8, 8), np.arange(64).reshape(8, 8))
    with pytest.raises(AppError, match="not an artifact of this lab"):
        space.client("bob").predict("alice-gguf", api_name="/artifact_download")

    job = _job("alice")  # the Export panel finds the files by its export job: the job's owner only
    jobs.cancel(job.id)
    manager.wait(job.id, 60)  # stopped for good, then recorded as an export that succeeded
    job.folder.mkdir(parents=True, exist_ok=True)
    (job.folder / "export_result.json").write_text(json.dumps({"out": str(folder)}))
    store.patch(job.id, state="succeeded")
    alice, bob = (caller_for(name, "t", [], "s") for name in ("alice", "bob"))
    assert [Path(p).name for p in downloads.export_files(alice, job.id)] == ["tiny-q8_0.gguf"]
    with pytest.raises(LabError, match="No job"):
        downloads.export_files(bob, job.id)
