"""The job state machine and the queue, with tiny test runners in real worker processes."""
import os
import signal
import time

import psutil
import pytest

from lab import jobs
from lab.errors import LabError
from lab.jobs import manager, store
from lab.jobs.context import read_metrics

jobs.register_kind("test.count", "tests.runners:count", heavy=True)
jobs.register_kind("test.light", "tests.runners:count", heavy=False)
jobs.register_kind("test.crash", "tests.runners:crash", heavy=False)
jobs.register_kind("test.mistake", "tests.runners:mistake", heavy=False)
jobs.register_kind("test.stubborn", "tests.runners:ignore_sigterm", heavy=False)
jobs.register_kind("test.slow_exit", "tests.runners:slow_exit", heavy=True)
jobs.register_kind("test.noisy", "tests.runners:noisy", heavy=False)


def wait_for(pred, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_transitions_are_enforced():
    job = store.create("test.count", "tests.runners:count", True, "n: 1")
    with store.connect(immediate=True) as con:
        with pytest.raises(LabError, match="cannot become"):
            store.set_state(con, job.id, "succeeded")
        store.set_state(con, job.id, "cancelled")
    with store.connect(immediate=True) as con:
        with pytest.raises(LabError):
            store.set_state(con, job.id, "running")


def test_job_runs_reports_progress_metrics_and_log():
    job = jobs.submit("test.count", {"n": 4, "sleep": 0.05})
    done = manager.wait(job.id, timeout=30)
    assert done.state == "succeeded" and done.progress == 1.0
    assert [r["step"] for r in read_metrics(done.metrics_path)] == [1, 2, 3, 4]
    assert "step 4" in done.log_path.read_text()
    assert done.pid and done.started and done.finished


def test_one_heavy_job_at_a_time_and_the_queue_moves_on():
    a = jobs.submit("test.count", {"n": 10, "sleep": 0.1})
    b = jobs.submit("test.count", {"n": 2, "sleep": 0.01})
    assert store.get_job(b.id).state == "queued"
    assert "waiting" in store.get_job(b.id).message.lower()
    light = jobs.submit("test.light", {"n": 1, "sleep": 0.01})
    assert manager.wait(light.id, 30).state == "succeeded"  # light jobs do not wait
    assert manager.wait(a.id, 30).state == "succeeded"
    assert manager.wait(b.id, 30).state == "succeeded"  # started by a's worker on exit
    assert store.get_job(b.id).started >= store.get_job(a.id).finished - 0.5


def test_crash_fails_with_last_log_lines():
    job = manager.wait(jobs.submit("test.crash", {}).id, 30)
    assert job.state == "failed"
    assert "RuntimeError: boom" in job.error and "disk is on fire" in job.error


def test_a_users_mistake_is_one_log_line_and_a_crash_keeps_its_traceback():
    job = manager.wait(jobs.submit("test.mistake", {}).id, 30)
    assert job.state == "failed" and job.error == "answer: The column `answer` is missing. Fix: Add an answer to " \
        "every row."
    log = job.log_path.read_text()
    assert "Traceback" not in log and [ln for ln in log.splitlines() if "answer" in ln] == [f"user error: {job.error}"]
    crashed = manager.wait(jobs.submit("test.crash", {}).id, 30)
    assert "Traceback (most recent call last)" in crashed.log_path.read_text()


def test_cancel_running_then_cancel_again_is_a_no_op():
    job = jobs.submit("test.count", {"n": 200, "sleep": 0.05})
    wait_for(lambda: store.get_job(job.id).progress > 0)
    assert "Cancelling" in jobs.cancel(job.id)
    done = manager.wait(job.id, 30)
    assert done.state == "cancelled" and done.progress < 1
    assert "already finished" in jobs.cancel(job.id)


def test_cancel_queued():
    a = jobs.submit("test.count", {"n": 50, "sleep": 0.05})
    b = jobs.submit("test.count", {"n": 1})
    assert "now cancelled" in jobs.cancel(b.id)
    jobs.cancel(a.id)
    manager.wait(a.id, 30)


def test_sigterm_ignored_means_sigkill_after_grace(monkeypatch):
    monkeypatch.setenv("LAB_JOB_GRACE_S", "1")
    from lab import settings

    settings.reset_caches()
    job = jobs.submit("test.stubborn", {})
    wait_for(lambda: store.get_job(job.id).progress >= 0.5)
    pid = store.get_job(job.id).pid
    jobs.cancel(job.id)
    assert manager.wait(job.id, 30).state == "cancelled"
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)


def test_a_job_resumed_while_its_old_worker_exits_keeps_running_and_holds_the_heavy_slot(monkeypatch):
    from lab import settings

    monkeypatch.setenv("LAB_JOB_GRACE_S", "30")  # no SIGKILL: the old worker exits on its own, slowly
    settings.reset_caches()
    job = jobs.submit("test.slow_exit", {"s": 60, "exit_s": 2})
    wait_for(lambda: store.get_job(job.id).message == "attempt 1 running")
    old = store.get_job(job.id)
    jobs.cancel(job.id)
    wait_for(lambda: store.get_job(job.id).state == "cancelled")
    assert manager.alive(old)  # the job recorded its end; its process is still on its way out
    jobs.resume(job.id)
    wait_for(lambda: store.get_job(job.id).message == "attempt 2 running")
    wait_for(lambda: not manager.alive(old))
    time.sleep(1.0)  # the cancel's watcher has seen the old worker go by now
    resumed = store.get_job(job.id)
    assert resumed.state == "running" and resumed.pid != old.pid and manager.alive(resumed)
    other = jobs.submit("test.count", {"n": 1, "sleep": 0.01})
    assert store.get_job(other.id).state == "queued"  # the heavy slot is still taken
    jobs.cancel(job.id)
    assert manager.wait(job.id, 30).state == "cancelled"
    assert manager.wait(other.id, 30).state == "succeeded"


def test_killed_worker_becomes_interrupted_and_resumes():
    job = jobs.submit("test.count", {"n": 400, "sleep": 0.02})
    wait_for(lambda: len(read_metrics(store.get_job(job.id).metrics_path)) >= 3)
    os.kill(store.get_job(job.id).pid, signal.SIGKILL)
    manager._CHILDREN.clear()  # as after an app restart: this process no longer owns the worker
    wait_for(lambda: not manager.alive(store.get_job(job.id)))
    assert job.id in jobs.recover()
    assert store.get_job(job.id).state == "interrupted"
    resumed = jobs.resume(job.id)
    assert resumed.attempts == 1
    jobs.cancel(job.id)
    manager.wait(job.id, 30)


def test_worker_env_carries_a_token_only_when_given(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_from_the_shell")
    env = manager.worker_env(None)
    assert "HF_TOKEN" not in env and env["HF_HUB_DISABLE_IMPLICIT_TOKEN"] == "1"
    assert manager.worker_env("hf_job_token")["HF_TOKEN"] == "hf_job_token"


def test_token_never_lands_in_the_record():
    job = jobs.submit("test.light", {"n": 1, "sleep": 0.01}, token="hf_supersecret_123", needs_token=True)
    done = manager.wait(job.id, 30)
    assert done.state == "succeeded"
    assert b"hf_supersecret_123" not in store.get_job(job.id).recipe.encode()
    for path in [*done.folder.rglob("*"), *done.folder.parent.parent.glob("jobs.db*")]:
        if path.is_file():
            assert b"hf_supersecret_123" not in path.read_bytes(), path


def test_demo_mode_refuses_every_job_before_recording_it(monkeypatch):
    """The public demo runs no job at all, light ones included (a download is compute and disk on the owner's
    bill): refused before anything is recorded or started."""
    from lab import settings

    monkeypatch.setenv("LAB_DEMO", "1")
    settings.reset_caches()
    for kind in ("test.count", "test.light"):
        with pytest.raises(LabError, match="demo"):
            jobs.submit(kind, {"n": 1})
    assert jobs.list_jobs() == []


def test_a_job_records_its_owner_and_its_worker_knows_it(monkeypatch):
    """The submitter's access key is on the record, in the worker's LAB_OWNER and on what the worker makes; a job
    submitted from inside a worker inherits it."""
    job = manager.wait(jobs.submit("test.count", {"n": 1, "sleep": 0}, owner="alice").id, 30)
    assert job.owner == "alice" and job.shared == 0
    assert manager.worker_env(None, "x", "alice")["LAB_OWNER"] == "alice"
    monkeypatch.setenv("LAB_OWNER", "bob")
    assert jobs.submit("test.count", {"n": 1, "sleep": 0}).owner == "bob"


def test_job_secrets_reach_only_the_worker_env_and_only_by_their_known_names(monkeypatch):
    monkeypatch.setenv("OAUTH_CLIENT_SECRET", "app-secret")
    monkeypatch.setenv("LAB_JUDGE_API_KEY", "from-the-app")
    env = manager.worker_env(None, "x", "v", {"LAB_JUDGE_API_KEY": "visitor-key"})
    assert env["LAB_JUDGE_API_KEY"] == "visitor-key" and "OAUTH_CLIENT_SECRET" not in env
    assert "LAB_JUDGE_API_KEY" not in manager.worker_env(None, "x", "v")
    with pytest.raises(ValueError):
        jobs.submit("test.count", {"n": 1}, secrets={"HF_TOKEN": "x"})


def test_known_library_noise_stays_out_of_the_job_log():
    job = manager.wait(jobs.submit("test.noisy", {}).id, 90)
    log = job.log_path.read_text()
    assert job.state == "succeeded", log
    assert "trained fine" in log and "UserWarning: the data has 3 empty rows" in log  # the job's own words stay
    assert "gemm_4bit_forward" not in log and "deprecated" not in log, log
    assert "  warnings.warn(\n" not in log, log  # nor the source line under a dropped warning
