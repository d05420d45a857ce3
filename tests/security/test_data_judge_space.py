"""Finding 1 on a duplicated Space: a signed-in visitor who is not the owner gets the same refusals as an anonymous
one (no variable of the server names their key, no address of the server's network is called, in-process or as a
job), while the owner's own judge still works against a local OpenAI-compatible stub: with a key variable of theirs,
with a key typed into the page, and in a job, where the typed key reaches the worker and is stored nowhere."""
from __future__ import annotations

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from lab import jobs, settings
from tests.hardening.conftest import wait_for
from tests.security.data_support import (  # noqa: F401 (attacker: a fixture)
    CANARIES, OWNER_KEY, OWNER_KEY_VAR, VISITOR, attacker, judge_recipe, space_app, write_rows)
from tests.space_signin import sign_in

pytestmark = pytest.mark.filterwarnings(
    "ignore:(?s)Exception in thread.*spaces. package is required:pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    from tests.fakehub import FakeHub

    scratch = tmp_path_factory.mktemp("space")
    hub = FakeHub(scratch / "hub").start()
    hub.add_user(VISITOR)
    with space_app(scratch, demo=False, hub=hub, env={OWNER_KEY_VAR: OWNER_KEY}) as (_app, url):
        yield hub, url
    hub.stop()


@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # the fake Hub answers sign-ins and whoami
    settings.reset_caches()


def _session(url: str, tmp_path, user: str | None) -> tuple[Client, str]:
    client = Client(url, verbose=False, headers=sign_in(url, user=user))
    recipe = client.predict([handle_file(str(write_rows(tmp_path / "rows.jsonl")))], "", "", "train", None, "auto",
                            api_name="/data_load")[2]
    client.predict(recipe=recipe, api_name="/data_run")
    return client, recipe


def test_a_signed_in_visitor_gets_no_secret_and_no_internal_call(space, attacker, tmp_path, online):
    _, url = space
    client, recipe = _session(url, tmp_path, VISITOR)
    told = []
    for api in ("/data_explore", "/data_run"):  # in this process, and as a job
        for judge in ({"endpoint": attacker.url, "api_key_env": "OAUTH_CLIENT_SECRET"},
                      {"endpoint": attacker.url, "api_key_env": "NOPE"},
                      {"endpoint": attacker.url}, {"endpoint": "https://169.254.169.254/v1"}):
            with pytest.raises(AppError) as err:
                client.predict(recipe=judge_recipe(recipe, **judge), api_name=api)
            told.append(str(err.value))
    assert attacker.requests == [] and jobs.list_jobs() == []  # nothing called, nothing started
    assert not any(c in t for c in CANARIES for t in told)
    assert not any("not set" in t or "HTTP" in t for t in told), told
    assert told[0] == told[1]  # OAUTH_CLIENT_SECRET exists, NOPE does not: the same answer


def test_the_owners_judge_uses_their_variable_or_their_typed_key(space, attacker, tmp_path, online):
    _, url = space
    client, recipe = _session(url, tmp_path, None)  # the fake Hub's own user owns this Space
    client.predict(recipe=judge_recipe(recipe, endpoint=attacker.url, api_key_env=OWNER_KEY_VAR),
                   api_name="/data_explore")
    assert attacker.bearers() == {f"Bearer {OWNER_KEY}"}
    attacker.requests.clear()
    client.predict(recipe=judge_recipe(recipe, endpoint=attacker.url), judge_key="typed-owner-key",
                   api_name="/data_explore")
    assert attacker.bearers() == {"Bearer typed-owner-key"}
    assert not any(c in attacker.seen() for c in CANARIES)


def test_a_typed_key_reaches_the_job_and_is_stored_nowhere(space, attacker, tmp_path, online, lab_home):
    _, url = space
    client, recipe = _session(url, tmp_path, None)
    key = "typed-job-key-5b1f"
    out = client.predict(recipe=judge_recipe(recipe, endpoint=attacker.url), judge_key=key, api_name="/data_run")
    job = wait_for(lambda: (j := jobs.get_job(out[1])).final and j, 240, "the judge job")
    assert job.state == "succeeded", job.error
    assert attacker.bearers() == {f"Bearer {key}"} and attacker.requests  # each kept row judged with it
    assert key not in job.recipe and key not in (job.error or "")
    stored = [p for p in lab_home.rglob("*") if p.is_file() and key.encode() in p.read_bytes()]
    assert stored == []  # not in jobs.db, the job's log, the artifact's recipe or card
