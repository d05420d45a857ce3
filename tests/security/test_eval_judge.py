"""Finding 1 for Evaluate's judge core: JudgeSettings.api_key_env is the owner's only, checked for the caller at
submit (and in the job's worker, as whose job it is) before any variable is looked up; the judge's endpoint goes
through the outbound policy; a visitor's typed key reaches only the job's worker, as LAB_JUDGE_API_KEY."""
from __future__ import annotations

import pytest

from lab import settings
from lab.access import ANONYMOUS, OWNER, VISITOR, Caller
from lab.errors import LabError
from lab.eval import judge
from lab.eval.recipe import JudgeSettings
from tests.eval_support import write_jsonl
from tests.security.data_support import OAUTH_CANARY, attacker  # noqa: F401 (a fixture)

EVE = Caller(VISITOR, "eve", "s-eve")
ANON = Caller(ANONYMOUS, session="s-anon")


@pytest.fixture
def on_space(monkeypatch):
    monkeypatch.setenv("SPACE_ID", "me/lab")
    monkeypatch.setenv("OAUTH_CLIENT_SECRET", OAUTH_CANARY)
    settings.reset_caches()


def _judged(lab_home, **judge_settings) -> dict:
    (lab_home / "tasks").mkdir(parents=True, exist_ok=True)  # a file the lab may read on a Space
    task = write_jsonl(lab_home / "tasks" / "open.jsonl", [{"prompt": "Name a colour."}])
    return {"models": ["HuggingFaceTB/SmolLM2-135M-Instruct"], "custom": [{"path": str(task)}],
            "judge": {"backend": "openai", "model": "j", **judge_settings}}


def test_a_visitor_naming_a_variable_is_refused_the_same_whether_it_exists(on_space, attacker):
    told = []
    for name in ("OAUTH_CLIENT_SECRET", "HF_TOKEN", "NOPE"):
        settings_ = JudgeSettings(backend="openai", endpoint=attacker.url, model="j", api_key_env=name)
        for caller in (EVE, ANON):
            for act in (lambda: judge.check(settings_, caller), lambda: judge.Asker(settings_, caller=caller)):
                with pytest.raises(LabError) as err:
                    act()
                told.append(str(err.value))
    assert len(set(told)) == 1 and "owner" in told[0] and "not set" not in told[0]
    with pytest.raises(LabError, match="NOPE is not set"):  # the owner may name one, and is told it is missing
        judge.check(JudgeSettings(backend="openai", endpoint=attacker.url, model="j", api_key_env="NOPE"),
                    Caller(OWNER, "tester"))
    assert attacker.requests == []


def test_a_visitors_judge_calls_no_address_of_the_servers_network(on_space, attacker):
    for url in (attacker.url, attacker.url.replace("http:", "https:"), "https://169.254.169.254/v1"):
        ask = None
        with pytest.raises(LabError, match="does not call that address"):
            ask = judge.Asker(JudgeSettings(backend="openai", endpoint=url, model="j"), caller=EVE,
                              sleep=lambda s: None)
            ask(["Rate this answer."])
    assert attacker.requests == []


def test_submit_checks_the_judge_for_the_caller_and_hands_the_typed_key_to_the_job_only(
        on_space, attacker, lab_home, monkeypatch):
    from lab import eval as lab_eval
    from lab import jobs

    started = []
    monkeypatch.setattr(jobs, "submit", lambda *a, **kw: started.append(kw) or "job")
    with pytest.raises(LabError, match="owner"):
        lab_eval.submit(_judged(lab_home, endpoint="https://router.huggingface.co/v1", api_key_env="HF_TOKEN"),
                        caller=EVE)
    with pytest.raises(LabError, match="owner"):  # no caller said, in the app on a Space: not the owner's rights
        lab_eval.submit(_judged(lab_home, endpoint="https://router.huggingface.co/v1", api_key_env="HF_TOKEN"))
    with pytest.raises(LabError, match="does not call that address"):
        lab_eval.submit(_judged(lab_home, endpoint=attacker.url), caller=EVE, judge_key="k")
    assert started == [] and attacker.requests == []
    owner = Caller(OWNER, "tester")
    lab_eval.submit(_judged(lab_home, endpoint=attacker.url), caller=owner, judge_key="typed-eval-key")
    (kw,) = started
    assert kw["owner"] == "" and kw["secrets"] == {"LAB_JUDGE_API_KEY": "typed-eval-key"}


def test_the_eval_job_is_refused_first_on_the_demo(on_space, tmp_path, monkeypatch):
    from lab import eval as lab_eval

    monkeypatch.setenv("LAB_DEMO", "1")
    settings.reset_caches()
    with pytest.raises(LabError, match="off on this public demo"):
        lab_eval.submit({"models": ["x/y"], "tasks": ["no-such-file.jsonl"]}, caller=ANON)


def test_in_the_jobs_worker_the_judge_acts_for_whose_job_it_is(on_space, attacker, monkeypatch):
    monkeypatch.setenv("LAB_OWNER", "eve")  # what the job manager sets for eve's job
    monkeypatch.setenv("LAB_JUDGE_API_KEY", "eves-typed-key")
    with pytest.raises(LabError, match="owner"):
        judge.check(JudgeSettings(backend="openai", endpoint="https://x.example/v1", model="j", api_key_env="HF_TOKEN"))
    with pytest.raises(LabError, match="does not call that address"):
        judge.Asker(JudgeSettings(backend="openai", endpoint=attacker.url, model="j"))
    monkeypatch.setenv("LAB_OWNER", "")  # the owner's job: their own network, with the key they typed
    ask = judge.Asker(JudgeSettings(backend="openai", endpoint=attacker.url, model="j"), sleep=lambda s: None)
    assert ask(["Rate this."]) == ["Score: 4"] and attacker.bearers() == {"Bearer eves-typed-key"}
