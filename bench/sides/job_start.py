"""Lab side: job start, from lab.jobs.submit() to the worker running.

"Running" means the job record is `running` and carries the worker's own pid and pid_started, which
`python -m lab.jobs.worker` writes once it has imported the lab and loaded the job; the pid must be a live
process with that start time. The job is tests/runners.py:count (one step of 0.3 s, so the poll sees it
running), a light kind, so it never queues. LAB_HOME is a fresh folder under $BENCH_TMP.
BENCH_RESULT: job_start_s (submit until this poll sees the worker running), worker_started_s (submit until the
`started` time the worker itself recorded), spawn_s (submit() returning: the record made and the worker
process launched), job_total_s (submit until the job succeeded).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

POLL_S = 0.02  # fine enough against a 3 s target, light enough not to slow the worker on 2 cores


def worker_is_running(job) -> bool:
    import psutil

    if job.state != "running" or not job.pid or job.pid_started is None:
        return False
    try:
        return abs(psutil.Process(job.pid).create_time() - job.pid_started) < 1.0
    except psutil.Error:
        return False


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="jobs-", dir=os.environ.get("BENCH_TMP")))
    os.environ["LAB_HOME"] = str(home)
    from lab.jobs import get_job, register_kind, submit
    from lab.jobs.manager import wait

    register_kind("bench.count", "tests.runners:count", heavy=False, label="Bench count")
    wall0, t0 = time.time(), time.perf_counter()
    job = submit("bench.count", {"n": 1, "sleep": 0.3}, title="bench: job start")
    spawn = time.perf_counter() - t0
    while not worker_is_running(job := get_job(job.id)):
        if job.final:
            print(f"job {job.id} ended {job.state} before it was seen running: {job.error}", file=sys.stderr)
            return 1
        if time.perf_counter() - t0 > 60:
            print(f"job {job.id} not running after 60 s (state {job.state})", file=sys.stderr)
            return 1
        time.sleep(POLL_S)
    started = time.perf_counter() - t0
    recorded = job.started - wall0
    job = wait(job.id, timeout=120, poll=0.01)
    total = time.perf_counter() - t0
    if job.state != "succeeded":
        print(f"job {job.id} {job.state}: {job.error}", file=sys.stderr)
        return 1
    print("BENCH_RESULT " + json.dumps({"job_start_s": round(started, 4), "worker_started_s": round(recorded, 4),
                                        "spawn_s": round(spawn, 4),
                                        "job_total_s": round(total, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
