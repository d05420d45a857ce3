"""The memory watchdog: a job is stopped by the lab, with its numbers, before the kernel's OOM killer steps in.

It watches from outside: the process that started the worker (the app, or the CLI) samples the RSS of the
worker's whole process tree several times a second. Over the limit (LAB_MEMORY_LIMIT_GB, else 90 % of RAM), or
when the machine as a whole is down to its last 5 % while the job holds a quarter of it, it writes a stop note into the job folder and sends SIGTERM:
the worker reads the note and fails at once with the message, without saving a checkpoint. A worker still there
after the grace period, or one that keeps growing past the hard line, gets SIGKILL; the job is then marked failed
here. GPU memory is capped inside the worker (torch's per-process fraction), where the allocator enforces it.
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import psutil

from lab.hardware import ram_free_bytes, ram_total_bytes
from lab.jobs.context import STOP_NOTE, read_metrics, run_state
from lab.settings import get_settings

DEFAULT_SHARE = 0.90  # of RAM (or VRAM) at which a job is stopped
HARD_SHARE = 0.95  # past this, no grace: SIGKILL at once
CHILDREN_EVERY_S = 2.0  # how often the worker's process tree is listed again (its RSS is read every sample)
GB = 1e9


def tree_rss(pid: int, procs: list | None = None) -> int:
    """Bytes of RSS of a process and all its descendants (or of the given processes of its tree)."""
    if procs is None:
        procs = tree(pid)
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def tree(pid: int) -> list:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def ram_limit_bytes() -> int:
    """The RSS a job tree may reach: LAB_MEMORY_LIMIT_GB, else 90 % of the machine's (container's) RAM."""
    limit = get_settings().memory_limit_gb
    return int(limit * GB) if limit else int(DEFAULT_SHARE * ram_total_bytes())


def _system_low(rss: int) -> bool:
    """The machine is down to its last 5 % and this job holds a good part of it (a small job is not the cause)."""
    total = ram_total_bytes()
    return rss > 0.25 * total and ram_free_bytes() < (1 - HARD_SHARE) * total


def stop_message(folder: Path, peak: int, limit: int) -> str:
    """'stopped at 21.8 GB at step 2 (estimate 13.5 GB): …', with what the job folder knows."""
    step, estimate = _last_step(folder), _estimate(folder)
    text = f"stopped at {peak / GB:.1f} GB"
    if step is not None:
        text += f" at step {step}"
    details = [f"estimate {estimate:.1f} GB" if estimate else "", f"limit {limit / GB:.1f} GB"]
    text += f" ({', '.join(d for d in details if d)})"
    return text + ": lower the batch size or the sequence length"


def _last_step(folder: Path) -> int | None:
    """The step in progress (training writes it as each step begins), else the last one recorded."""
    step = run_state(folder).get("step")
    if step is not None:
        return int(step)
    steps = [r["step"] for r in read_metrics(folder / "metrics.jsonl") if r.get("step") is not None]
    return max(steps) if steps else None


def _estimate(folder: Path) -> float | None:
    try:
        return json.loads((folder / "preflight.json").read_text())["memory"]["total_gb"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


class Watchdog(threading.Thread):
    """Watches one worker (a process-group leader). `on_stop(message)` runs once the worker is gone, if the
    watchdog stopped it."""

    def __init__(self, pid: int, folder: Path, limit: int | None = None, grace_s: float = 10.0,
                 interval_s: float = 0.2, on_stop=None):
        super().__init__(daemon=True, name=f"lab-watchdog-{pid}")
        self.pid, self.folder, self.grace_s, self.interval_s = pid, Path(folder), grace_s, interval_s
        self.limit = limit or ram_limit_bytes()
        self.on_stop = on_stop
        self.peak = 0
        self.message: str | None = None
        self._done = threading.Event()

    def close(self) -> None:
        self._done.set()

    def run(self) -> None:
        procs, listed = [], 0.0
        while not self._done.is_set() and psutil.pid_exists(self.pid):
            if time.monotonic() - listed > CHILDREN_EVERY_S:  # listing children scans all of /proc: not each time
                procs, listed = tree(self.pid), time.monotonic()
            rss = tree_rss(self.pid, procs)
            self.peak = max(self.peak, rss)
            if rss and (rss > self.limit or _system_low(rss)):
                self._stop_worker()
                return
            self._done.wait(self.interval_s)

    def _stop_worker(self) -> None:
        self.message = stop_message(self.folder, self.peak, self.limit)
        try:
            (self.folder / STOP_NOTE).write_text(json.dumps({"message": self.message, "peak": self.peak}))
        except OSError:
            pass
        _signal(self.pid, signal.SIGTERM)
        deadline = time.time() + self.grace_s
        hard = max(self.limit, int(HARD_SHARE * ram_limit_bytes() / DEFAULT_SHARE))
        while time.time() < deadline and psutil.pid_exists(self.pid) and not _zombie(self.pid):
            rss = tree_rss(self.pid)
            self.peak = max(self.peak, rss)
            if rss > hard:
                break
            time.sleep(self.interval_s)
        if psutil.pid_exists(self.pid) and not _zombie(self.pid):
            _signal(self.pid, signal.SIGKILL)
        while psutil.pid_exists(self.pid) and not _zombie(self.pid):
            time.sleep(self.interval_s)
        (self.folder / STOP_NOTE).unlink(missing_ok=True)
        if self.on_stop:
            self.on_stop(self.message)


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _signal(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except OSError:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def protect_app() -> None:
    """Make this (worker) process the kernel's first choice should it ever have to kill one: never the app."""
    try:
        Path("/proc/self/oom_score_adj").write_text("1000")
    except OSError:
        pass
