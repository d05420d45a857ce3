"""`python -m lab.jobs.worker JOB_ID`: run one job's runner in this process, record how it ended."""
from __future__ import annotations

import errno
import importlib
import os
import sys
import time
import traceback

import psutil
import yaml

from lab.errors import LabError
from lab.jobs import manager, store
from lab.jobs.context import JobCancelled, JobContext
from lab.jobs.noise import QuietStream
from lab.jobs.watchdog import protect_app
from lab.settings import get_settings


def load_runner(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _tail(path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _redirect_output(job: store.Job) -> None:
    """Send this process's stdout/stderr (C-level too) to the job log, without known library noise."""
    job.log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(job.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout, sys.stderr = QuietStream(sys.stdout), QuietStream(sys.stderr)


def disk_full(exc: BaseException | None) -> bool:
    """ENOSPC/EDQUOT anywhere in the chain, also inside another library's error (safetensors' Rust I/O error
    reads "No space left on device (os error 28)")."""
    for _ in range(20):
        if exc is None:
            return False
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(exc) or "os error 28" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def disk_full_error(exc: BaseException) -> LabError:
    return LabError(f"The disk is full: the job could not write its output ({type(exc).__name__}: "
                    f"{str(exc)[:200]}).",
                    f"Free space where LAB_HOME lives ({get_settings().home}): delete artifacts you no longer need "
                    "(Artifacts tab) or attach more storage, then run the job again.", "disk")


def _finish(job_id: str, state: str, error: str = "") -> None:
    with store.connect(immediate=True) as con:
        extra = {"progress": 1.0} if state == "succeeded" else {}
        store.set_state(con, job_id, state, finished=time.time(), error=error[-4000:], **extra)


def _remove_if_empty(folder) -> None:
    try:
        folder.rmdir()  # only an empty folder: a checkpoint or partial output stays for resume
    except OSError:
        pass


def main(job_id: str) -> int:
    job = store.get_job(job_id)
    job.folder.mkdir(parents=True, exist_ok=True)
    _redirect_output(job)
    protect_app()
    me = psutil.Process()
    store.patch(job_id, pid=me.pid, pid_started=me.create_time(), started=time.time(), error="")
    print(f"=== job {job.id} ({job.kind}) attempt {job.attempts + 1} started, pid {me.pid}", flush=True)
    state, error = "succeeded", ""
    try:
        recipe = yaml.safe_load(job.recipe) or {}
        ctx = JobContext(job, recipe)
        store.patch(job_id, message="Starting: loading the libraries…")  # torch and friends take seconds
        load_runner(job.runner)(ctx)
    except JobCancelled:
        state = "cancelled"
    except LabError as exc:  # a user's mistake: one line in the log, no traceback (that is for the lab's faults)
        print(f"user error: {exc}", flush=True)
        state, error = "failed", str(exc)
    except BaseException as exc:  # a crash: keep the last log lines in the error
        traceback.print_exc()
        sys.stdout.flush()
        state, error = "failed", f"{type(exc).__name__}: {exc}\n--- last log lines ---\n{_tail(job.log_path)}"
        if disk_full(exc):
            state, error = "failed", str(disk_full_error(exc))
    print(f"=== job {job.id} {state}", flush=True)
    if state != "succeeded":
        _remove_if_empty(job.folder)  # nothing was made: the name is free for a retry (the log is elsewhere)
    try:
        _finish(job_id, state, error)
    finally:
        manager.pump()
    return 0 if state == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
