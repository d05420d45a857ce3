"""A job's runner in this process, for the CLI: its context and the watched child it runs in.

`LocalContext` is the JobContext of a run without a job record: metrics.jsonl in the output folder, logs on
stderr, Ctrl-C or SIGTERM asks the runner to save and stop. `run_watched` runs the same command again in a child
process under the memory watchdog, so an out-of-memory run is stopped by the lab with its numbers, never by the
kernel.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lab.jobs.allocator import allocator_env
from lab.jobs.context import JobContext, read_stop_note
from lab.jobs.watchdog import Watchdog, protect_app


class LocalContext(JobContext):
    """What a job runner gets, for a run in this process: metrics.jsonl in the output folder, logs on stderr."""

    def __init__(self, folder: Path, recipe: dict | None = None):
        self.job, self.job_id = None, ""
        folder = Path(folder)
        self._open(recipe or {}, folder, folder / "metrics.jsonl", (signal.SIGINT, signal.SIGTERM))
        self.cooperative = True  # the training callback saves a checkpoint, then stops
        protect_app()

    def log(self, msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    def progress(self, fraction: float, message: str = "", force: bool = False, eta_s: float | None = None) -> None:
        pass  # no job record to update: the log lines say how far the run is

    @property
    def resumed(self) -> bool:
        return (self.folder / "checkpoints").is_dir()


def in_watched_child(flag: str) -> bool:
    """Run here when this is the watched child, or a rank of a multi-process launch (the launcher watches)."""
    return os.environ.get(flag) == "1" or int(os.environ.get("WORLD_SIZE", "1")) > 1


def run_watched(argv: list[str], folder: Path, flag: str, command: list[str] | None = None,
                env: dict | None = None) -> int:
    """Run `python -m lab ARGV` (or `command`, e.g. a multi-process launch of it) in a child (with `flag`=1 in its
    environment) under the memory watchdog, which watches the child's whole process tree; returns its exit code.
    Ctrl-C / SIGTERM reach the child, which saves a checkpoint."""
    folder.mkdir(parents=True, exist_ok=True)
    env = allocator_env({**(os.environ if env is None else env), flag: "1"}, "glibc")  # it switches when tight
    proc = subprocess.Popen(command or [sys.executable, "-m", "lab", *argv], env=env, start_new_session=True)
    forward = lambda signum, frame: os.killpg(proc.pid, signal.SIGTERM)  # noqa: E731
    old = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    dog = Watchdog(proc.pid, folder)
    dog.start()
    try:
        code = proc.wait()
    finally:
        dog.close()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    dog.join(timeout=60)
    if dog.message:
        read_stop_note(folder, remove=True)
        if code < 0:  # killed before it could say why itself
            print(f"error: memory: {dog.message}", file=sys.stderr)
        return 2
    return code
