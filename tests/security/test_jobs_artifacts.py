"""Finding 4: on a shared Space, visitors saw and touched each other's work. Now a visitor lists, shows, cancels,
resumes and deletes only their own jobs and artifacts (plus what the owner shared, to watch and use), gets the same
answer for another's as for one that does not exist, and never sees a server path in a job record."""
from __future__ import annotations

import json

import pytest
from gradio_client.exceptions import AppError

from lab import jobs
from lab.artifacts import finalize, new_folder
from lab.jobs import manager
from tests.security.conftest import OWNER

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
