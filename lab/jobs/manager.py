"""Submit, start, cancel, resume and recover jobs. One heavy job runs at a time; the rest queue.

The queue needs no daemon: submit(), a worker's exit and the app's poll each call pump().
Tokens are held in this process's memory only, keyed by job id, and reach a worker via its env.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from lab.errors import LabError
from lab.jobs import store
from lab.jobs.allocator import allocator_env
from lab.jobs.context import read_metrics, run_state
from lab.jobs.kinds import get_kind
from lab.jobs.watchdog import Watchdog
from lab.settings import get_settings
from lab.yamlio import recipe_text

_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds the `lab` package
_TOKENS: dict[str, str] = {}
_SECRETS: dict[str, dict[str, str]] = {}  # job id -> environment a worker gets once (a visitor's typed API key)
_CHILDREN: dict[str, subprocess.Popen] = {}
_WATCHDOGS: dict[str, "Watchdog"] = {}
_SECRET_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN", "OAUTH_CLIENT_SECRET")
SECRET_ENV = ("LAB_JUDGE_API_KEY",)  # the only names a job's secrets may take


def check_allowed(kind: str) -> None:
    """Jobs are off on the public demo Space: refused before any work (call it first in a handler)."""
    if get_settings().demo:
        raise LabError(f"{get_kind(kind).label} is off on this public demo Space.",
                       "Duplicate the Space to a private GPU (button at the top) to run it.", "job")


def submit(kind: str, recipe, title: str = "", token: str | None = None, artifact_dir: Path | None = None,
           needs_token: bool = False, owner: str | None = None, secrets: dict[str, str] | None = None) -> store.Job:
    """Record a job and start it now, or queue it behind the running heavy job. `owner` is the lab.access key of
    who asked (default: the job this runs in, LAB_OWNER, else the lab's owner); `secrets` reach the worker's
    environment once and are never stored."""
    k = get_kind(kind)
    check_allowed(kind)
    if needs_token and not token:
        raise LabError("This job pushes to the Hub and needs you signed in.", "Sign in with Hugging Face first.",
                       "token")
    bad = set(secrets or {}) - set(SECRET_ENV)
    if bad:
        raise ValueError(f"job secrets may only be {SECRET_ENV}, not {sorted(bad)}")
    owner = os.environ.get("LAB_OWNER", "") if owner is None else owner
    job = store.create(kind, k.runner, k.heavy, recipe_text(recipe), title or k.label,
                       needs_token=needs_token, artifact_dir=artifact_dir, owner=owner)
    if token:
        _TOKENS[job.id] = token
    if secrets:
        _SECRETS[job.id] = {k: v for k, v in secrets.items() if v}
    pump()
    return store.get_job(job.id)


def alive(job: store.Job) -> bool:
    if not job.pid:
        return False
    try:
        p = psutil.Process(job.pid)
        same = job.pid_started is None or abs(p.create_time() - job.pid_started) < 1.0
        return same and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _reap() -> None:
    for job_id, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            _CHILDREN.pop(job_id, None)


def recover(grace_s: float = 60.0) -> list[str]:
    """Running jobs whose worker is gone become `interrupted`. Returns their ids."""
    _reap()
    lost = []
    now = time.time()
    with store.connect(immediate=True) as con:
        rows = con.execute("SELECT id FROM jobs WHERE state='running'").fetchall()
        for (job_id,) in rows:
            job = store.get_job_in(con, job_id)
            starting = job.pid is None and now - (job.started or job.created) < grace_s
            if job.id in _CHILDREN or starting:
                continue
            if alive(job):
                watch(job.id, job.pid)  # a worker that outlived an app restart is watched again
                continue
            store.set_state(con, job_id, "interrupted", finished=now,
                            error="The worker stopped without finishing (app restart or crash). Resume to continue.")
            lost.append(job_id)
    return lost


def pump() -> list[str]:
    """Start what may start: every queued light job, and the oldest heavy one if none runs."""
    recover()
    started = []
    with store.connect(immediate=True) as con:
        running_heavy = con.execute("SELECT COUNT(*) FROM jobs WHERE state='running' AND heavy=1").fetchone()[0]
        queued = con.execute("SELECT id, kind, heavy, needs_token, owner FROM jobs WHERE state='queued' "
                             "ORDER BY created").fetchall()
        for job_id, kind, heavy, needs_token, owner in queued:
            if needs_token and job_id not in _TOKENS:
                continue  # only the process that holds the token can start it
            if heavy and running_heavy:
                store.update(con, job_id, message="Queued: waiting for the running job to finish.")
                continue
            store.set_state(con, job_id, "running", started=time.time(), pid=None, pid_started=None,
                            message="Starting…", ends=0.0)
            running_heavy += heavy
            started.append((job_id, kind, owner))
    for job_id, kind, owner in started:
        _spawn(job_id, kind, owner)
    return [job_id for job_id, _, _ in started]


def worker_env(token: str | None, kind: str = "", owner: str = "", secrets: dict[str, str] | None = None) -> dict:
    """A worker's environment: the app's, without any secret of the app (its HF token, its OAuth secret), plus
    the job's own token and secrets, and LAB_OWNER (whose job it is: lab.access.job_caller() reads it)."""
    env = {k: v for k, v in os.environ.items() if k not in _SECRET_VARS and k not in SECRET_ENV}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["LAB_HOME"] = str(get_settings().home)

    # a training worker starts on glibc and switches to jemalloc itself when its preflight finds memory tight
    env = allocator_env(env, "glibc" if kind.startswith("train.") else "jemalloc")
    env["LAB_OWNER"] = owner
    env.update(secrets or {})
    if token:
        env["HF_TOKEN"] = token
    else:
        env["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"  # not even the stored login
    return env


def _spawn(job_id: str, kind: str, owner: str = "") -> None:
    token = _TOKENS.pop(job_id, None)
    secrets = _SECRETS.pop(job_id, None)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lab.jobs.worker", job_id],
            env=worker_env(token, kind, owner, secrets), cwd=str(_ROOT), start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    except OSError as exc:
        with store.connect(immediate=True) as con:
            store.set_state(con, job_id, "failed", finished=time.time(), error=f"Could not start the worker: {exc}")
        return
    _CHILDREN[job_id] = proc
    store.patch(job_id, pid=proc.pid)
    watch(job_id, proc.pid)


def watch(job_id: str, pid: int) -> None:
    """Start the memory watchdog on a worker (also on one found running after an app restart)."""
    old = _WATCHDOGS.get(job_id)
    if old is not None and old.is_alive() and old.pid == pid:
        return
    job = store.get_job(job_id)
    dog = Watchdog(pid, job.folder, grace_s=min(10.0, get_settings().job_grace_s),
                   on_stop=lambda message: _mark_stopped(job_id, pid, message))
    _WATCHDOGS[job_id] = dog
    dog.start()


def _mark_stopped(job_id: str, pid: int, message: str) -> None:
    """The watchdog stopped this worker: the job failed with its numbers, whatever the worker managed to record."""
    with store.connect(immediate=True) as con:
        try:
            job = store.get_job_in(con, job_id)
        except LabError:
            return
        if job.pid == pid and job.state in ("running", "cancelled", "failed"):
            store.update(con, job_id, state="failed", finished=job.finished or time.time(),
                         error=f"memory: {message}")
    _reap()
    pump()


def cancel(job_id: str) -> str:
    """Cancel a job: queued ones at once; running ones by SIGTERM, a grace period, then SIGKILL."""
    job = store.get_job(job_id)
    if job.final:
        return f"Job {job_id} already finished ({job.state}); nothing to cancel."
    if job.state == "queued":
        with store.connect(immediate=True) as con:
            store.set_state(con, job_id, "cancelled", finished=time.time())
        return f"Job {job_id} was queued and is now cancelled."
    if job.pid and alive(job):
        try:
            os.killpg(job.pid, signal.SIGTERM)
        except OSError:
            pass
        threading.Thread(target=_kill_later, args=(job, grace_s(job.folder)), daemon=True).start()
    else:
        _mark_cancelled(job_id)
    return f"Cancelling job {job_id}…"


def grace_s(folder: Path) -> float:
    """Seconds between cancel's SIGTERM and SIGKILL: enough to finish the step in flight and save a checkpoint, as
    this run measured them (1.5 × (step + save) + 5 s), never less than LAB_JOB_GRACE_S. A fixed 10 s would kill
    a 7B run mid-save."""
    floor = float(get_settings().job_grace_s)
    times = sorted(r["step_time"] for r in read_metrics(folder / "metrics.jsonl")[-20:] if r.get("step_time"))
    step = times[len(times) // 2] if times else 0.0
    save = float(run_state(folder).get("save_s") or 0.0)
    return max(floor, 1.5 * (step + save) + 5.0) if (step or save) else floor


def _mark_cancelled(job_id: str, attempt: int | None = None) -> None:
    """Record a cancel the worker could not record itself; only for the attempt that was cancelled (a job resumed
    meanwhile is a new attempt, running in a new worker)."""
    with store.connect(immediate=True) as con:
        try:
            job = store.get_job_in(con, job_id)
        except LabError:  # the record is gone (LAB_HOME wiped): nothing left to mark
            return
        if job.state == "running" and attempt in (None, job.attempts):
            store.set_state(con, job_id, "cancelled", finished=time.time())


def _kill_later(job: store.Job, grace_s: float) -> None:
    deadline = time.time() + grace_s
    while time.time() < deadline and alive(job):
        time.sleep(0.1)
    if alive(job):
        try:
            os.killpg(job.pid, signal.SIGKILL)
        except OSError:
            pass
        time.sleep(0.2)
    _reap()
    _mark_cancelled(job.id, job.attempts)  # a worker killed before it could record the end
    pump()


def resume(job_id: str, token: str | None = None, secrets: dict[str, str] | None = None) -> store.Job:
    """Queue an interrupted, failed or cancelled job again; its runner continues from its checkpoint."""
    job = store.get_job(job_id)
    if job.state not in ("interrupted", "failed", "cancelled"):
        raise LabError(f"Job {job_id} is {job.state}; only interrupted, failed or cancelled jobs resume.", "", "job")
    if job.needs_token and not token:
        raise LabError("This job pushes to the Hub and needs you signed in.", "Sign in, then resume.", "token")
    with store.connect(immediate=True) as con:
        store.set_state(con, job_id, "queued", attempts=job.attempts + 1, finished=None, error="",
                        message="Queued to resume.")
    if token:
        _TOKENS[job_id] = token
    if secrets:
        _SECRETS[job_id] = {k: v for k, v in secrets.items() if k in SECRET_ENV and v}
    pump()
    return store.get_job(job_id)


def wait(job_id: str, timeout: float = 600, poll: float = 0.2) -> store.Job:
    """Block until the job ends (CLI and tests)."""
    deadline = time.time() + timeout
    while True:
        job = store.get_job(job_id)
        if job.final:
            return job
        if time.time() > deadline:
            raise TimeoutError(f"job {job_id} still {job.state} after {timeout}s")
        time.sleep(poll)
        _reap()
