"""Training runs as the Experiments view lists them, read from the lab's own records.

A run is a training job (its record in jobs.db: state, times, recipe) and its output folder (metrics.jsonl,
preflight.json with the memory estimate and the measured peak, lab.json with the final metrics and the scores,
recipe.yaml). A run trained from the CLI has a folder and no job. Only what the caller may see is listed
(lab.jobs.owners).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lab import yamlio
from lab.access import Caller
from lab.artifacts import read_manifest
from lab.errors import LabError
from lab.jobs import store
from lab.jobs.context import read_metrics
from lab.jobs.owners import visible_artifacts, visible_jobs

TRAIN_PREFIX = "train."
NOT_RUNS = {"train.lr_find"}  # a range test, not a run to compare


@dataclass
class Run:
    """One training run: where it lives and what it was asked to do."""
    id: str  # the job id, or the folder's name for a run without a job
    folder: Path
    recipe: dict  # nested, as recipe.yaml writes it
    job: store.Job | None = None
    manifest: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.manifest.get("name") or self.folder.name

    @property
    def metrics(self) -> list[dict]:
        return read_metrics(self.folder / "metrics.jsonl")

    def memory(self) -> dict:
        path = self.folder / "preflight.json"
        try:
            return json.loads(path.read_text()).get("memory", {}) if path.is_file() else {}
        except json.JSONDecodeError:
            return {}


def _recipe_of(text: str) -> dict:
    try:
        data = yamlio.load(text or "{}")
    except LabError:
        return {}
    return data if isinstance(data, dict) else {}


def _is_train_manifest(m: dict) -> bool:
    return bool(m.get("method")) and m.get("kind") in ("adapter", "model") and "merge_path" not in m


def visible_runs(caller: Caller, limit: int = 200) -> list[Run]:
    """The caller's runs (and those shared with them), newest first: jobs, then CLI runs with no job."""
    runs, seen = [], set()
    for job in visible_jobs(caller, limit=5000):
        if not job.kind.startswith(TRAIN_PREFIX) or job.kind in NOT_RUNS:
            continue
        folder = job.folder
        seen.add(str(folder))
        runs.append(Run(job.id, folder, _recipe_of(job.recipe), job, read_manifest(folder)))
    for m in visible_artifacts(caller):
        folder = Path(m["path"])
        if str(folder) in seen or not _is_train_manifest(m) or not (folder / "metrics.jsonl").is_file():
            continue
        text = (folder / "recipe.yaml").read_text() if (folder / "recipe.yaml").is_file() else ""
        runs.append(Run(folder.name, folder, _recipe_of(text), None, m))
    runs.sort(key=_created, reverse=True)
    return runs[:limit]


def _created(run: Run) -> float:
    return run.job.created if run.job else float(run.manifest.get("created") or 0)


def run_for(caller: Caller, run_id: str) -> Run:
    """A run the caller may see, by job id or folder name; the same error whether it exists or not."""
    wanted = str(run_id or "").strip()
    for run in visible_runs(caller, limit=5000):
        if wanted in (run.id, run.folder.name):
            return run
    raise LabError(f"No training run {wanted[:80]!r}.", "Pick runs from `python -m lab runs list` or the "
                   "Experiments tab.", "runs")


def wall_s(run: Run) -> float | None:
    """Seconds the run took: the job's start to finish, else the sum of its logged step times."""
    job = run.job
    if job and job.started and job.finished:
        return round(job.finished - job.started, 1)
    times = [m["step_time"] for m in run.metrics if "step_time" in m and "loss" in m]
    return round(sum(times), 1) if times else None
