"""The Evaluate tab's judge key (issue 21, finding 1 in this tab): a visitor may not name an environment variable of
the server as the judge's key; the key they type in the page reaches that job's worker only (LAB_JUDGE_API_KEY),
never the recipe, the job's record or its database, and the job is theirs."""
from __future__ import annotations

import json
import socket

import pytest

from lab.jobs import store
from tests.security.spaces import FILTER, VISITOR, space_app, space_env, texts  # noqa: F401

pytestmark = FILTER
TASKS = "acme/judged"
TYPED = "sk-bob-typed-6c1f0e"
ENDPOINT = "https://judge.example.org/v1"
# the Evaluate form, by input index: 0 models, 2 Hub task datasets, then the judge (sorted): 12 api_key_env,
# 13 backend, 14 endpoint, … and 19 the API key box
FORM = {2: TASKS, 13: "openai", 14: ENDPOINT}


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    root = tmp_path_factory.mktemp("judge-key")
    with space_app(root) as s:
        rows = "".join(json.dumps({"prompt": f"Say {w}."}) + "\n" for w in ("yes", "no", "maybe"))
        s.hub.seed(TASKS, files={"test.jsonl": rows.encode()}, repo_type="dataset")
        yield s


def test_a_visitor_cannot_name_a_server_variable_as_the_judges_key(space):
    before = len(store.list_jobs())
    for name in ("HF_TOKEN", "OAUTH_CLIENT_SECRET", "NOPE_NOT_SET"):
        answer, _ = space.event("lab.ui.eval_events", "run", {**FORM, 12: name}, user=VISITOR)
        # refused in the run's note, beside the button (or as an error)
        assert "only the space's owner may name an environment variable" in texts(answer).lower(), answer
        assert "not set" not in texts(answer)
    assert len(store.list_jobs()) == before


def test_the_typed_key_reaches_the_jobs_worker_only(space, monkeypatch):
    from lab.jobs import manager

    envs = {}
    real = manager.worker_env

    def spy(token, kind="", owner="", secrets=None):
        env = real(token, kind, owner, secrets)
        envs[kind] = env
        return env

    monkeypatch.setattr(manager, "worker_env", spy)
    real_lookup = socket.getaddrinfo  # the judge's host has a public address (this machine has no DNS for it)
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))] if host == "judge.example.org"
        else real_lookup(host, *a, **k))
    out, failed = space.event("lab.ui.eval_events", "run", {**FORM, 19: TYPED}, user=VISITOR)
    assert not failed, out
    job_id = out[1].split("`")[1]  # "Job `ID` started …" (the id itself stays in the page's state)
    try:
        job = store.get_job(job_id)
        assert job.owner == VISITOR
        assert envs["eval"]["LAB_JUDGE_API_KEY"] == TYPED and envs["eval"]["LAB_OWNER"] == VISITOR
        assert TYPED not in job.recipe and TYPED not in texts(vars(job))
        assert TYPED.encode() not in (space.home / "jobs.db").read_bytes()
    finally:
        manager.cancel(job_id)
