"""What a runner gets: its recipe, its folder, and calls to log, record metrics and report progress."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from lab.errors import LabError
from lab.jobs import store


class JobCancelled(Exception):
    """Raised inside a runner when the user cancelled the job."""


class MemoryStopped(LabError):
    """Raised inside a runner that the memory watchdog stopped."""

    def __init__(self, message: str):
        super().__init__(message, "", "memory")  # the message already says what to lower


class JobContext:
    def __init__(self, job: store.Job, recipe: dict):
        self.job = job
        self.job_id = job.id
        self._open(recipe, job.folder, job.metrics_path, (signal.SIGTERM,))

    def _open(self, recipe: dict, folder: Path, metrics_path: Path, signals: tuple) -> None:
        self.recipe = recipe
        self.folder = folder
        self.metrics_path = metrics_path
        self.cancelled = False
        self.cooperative = False  # a runner that polls `cancelled` itself (e.g. to save a checkpoint)
        self._last_progress = 0.0
        self._recorded = RecordedSteps(metrics_path)
        for sig in signals:
            signal.signal(sig, self._on_sigterm)

    def _on_sigterm(self, signum, frame):
        stopped = read_stop_note(self.folder, remove=True)
        if stopped:  # the memory watchdog: fail now, no checkpoint (saving would take more memory)
            raise MemoryStopped(stopped)
        self.cancelled = True
        if not self.cooperative:
            raise JobCancelled("cancelled by the user")

    def check_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled("cancelled by the user")

    def log(self, msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    def metric(self, **values) -> None:
        """Append one metrics row. Rows whose step was already recorded (a resumed run) are skipped."""
        if not self._recorded.admit(values):
            return
        values.setdefault("time", round(time.time(), 3))
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(values) + "\n")

    def progress(self, fraction: float, message: str = "", force: bool = False, eta_s: float | None = None) -> None:
        """The job's progress and message; `eta_s`, seconds left as the runner measured them, sets its ETA."""
        now = time.time()
        if not force and now - self._last_progress < 0.25 and fraction < 1:
            return
        self._last_progress = now
        extra = {"ends": now + eta_s} if eta_s is not None else {}
        store.patch(self.job_id, progress=max(0.0, min(1.0, float(fraction))), message=message[:500], **extra)

    @property
    def resumed(self) -> bool:
        return self.job.attempts > 0


class RecordedSteps:
    """The last step recorded for each kind of row (training, evaluation). A resumed run skips the rows it already
    wrote; an evaluation logged at the same step as that step's training row is a new row, and is kept."""

    def __init__(self, path: Path):
        self.last: dict[str, int] = {}
        for row in read_metrics(path):
            self.admit(row)

    def admit(self, values: dict) -> bool:
        step = values.get("step")
        if step is None:
            return True
        kind = "eval" if any(str(k).startswith("eval_") for k in values) else "train"
        if step <= self.last.get(kind, -1):
            return False
        self.last[kind] = step
        return True


def read_metrics(path: Path, since: int = 0) -> list[dict]:
    """Metrics rows from a job's JSONL (tolerates a half-written last line)."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines()[since:]:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


STOP_NOTE = ".memory-stop.json"  # the memory watchdog's message to the worker it stops (lab.jobs.watchdog)


def read_stop_note(folder: Path, remove: bool = False) -> str | None:
    path = Path(folder) / STOP_NOTE
    try:
        message = json.loads(path.read_text())["message"]
    except (OSError, ValueError, KeyError):
        return None
    if remove:
        path.unlink(missing_ok=True)
    return message


RUN_STATE = ".run.json"  # what a running job tells the lab: the step in progress, how long a checkpoint takes


def note_run(folder: Path, **values) -> None:
    """Merge values into the job folder's run state (read by the watchdog and by cancel's grace period)."""
    path = Path(folder) / RUN_STATE
    try:
        state = {**run_state(folder), **values}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(path)
    except OSError:
        pass


def run_state(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / RUN_STATE).read_text())
    except (OSError, ValueError):
        return {}
