"""One GPU, shared by the app's chat models and a training job: the job comes first.

When a heavy job runs on the GPU, the app unloads its idle chat models (the background loop calls
yield_to_jobs every few seconds, whichever process started the job) and the Chat tab says so. A chat model
that would not fit in what the GPU has free beside a running job is refused with the numbers, before it loads.
"""
from __future__ import annotations

from lab import hardware
from lab.errors import LabError
from lab.jobs import store

GB = 1e9
HEADROOM = 0.9  # a chat model may take this share of the GPU's free memory


def running_jobs() -> list:
    """Heavy jobs running now (training, merging, evaluation, export): they own the GPU."""
    with store.connect() as con:
        ids = [r[0] for r in con.execute("SELECT id FROM jobs WHERE state='running' AND heavy=1").fetchall()]
        return [store.get_job_in(con, i) for i in ids]


def yield_to_jobs(registry) -> str | None:
    """Unload idle chat models from the GPU while a heavy job runs; returns (and keeps) the notice, if any."""
    if not hardware.get_hardware().cuda:
        return None
    jobs = running_jobs()
    if not jobs:
        registry.notice = ""
        return None
    names = registry.unload_idle()
    if names:
        job = jobs[0]
        registry.notice = (f"Unloaded {', '.join(names)} from the GPU: job {job.id} ({job.title}) is running on it. "
                           "Chat loads them again if they fit beside the job.")
    return registry.notice or None


def check_fits(need_bytes: int, label: str) -> None:
    """Refuse, with the numbers, a chat model that the GPU cannot hold beside what already runs on it."""
    if not hardware.get_hardware().cuda:
        return

    free, total = hardware.vram_free_bytes()  # read through the module: tests stand in for the GPU
    if need_bytes <= HEADROOM * free:
        return
    jobs = running_jobs()
    beside = f" while job {jobs[0].id} ({jobs[0].title}) runs on it" if jobs else ""
    raise LabError(f"{label} needs about {need_bytes / GB:.1f} GB of GPU memory; {free / GB:.1f} GB of "
                   f"{total / GB:.0f} GB is free{beside}.",
                   "Wait for the job to finish, turn on 4-bit loading, or pick a smaller model.", "model")
