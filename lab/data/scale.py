"""The datatrove engine: `python -m lab data run RECIPE --engine datatrove` runs the recipe's exact dedup, fuzzy
dedup and rule steps as datatrove pipelines, sharded over local processes (or Slurm jobs), and writes the same
artifact as the in-memory engine.

The sources are loaded and normalized here, as the in-memory engine does, and written as `tasks` JSONL shards of
consecutive rows. Then each enabled step, in the recipe's order, is one pass over the rows still kept:
  exact dedup  ExactDedupSignature → ExactFindDedups → ExactDedupFilter (the earliest row of a group is kept)
  fuzzy dedup  KeyAsText + KeepKeyTexts + MinhashDedupSignature → MinhashDedupBuckets → ConfirmPairs (each
               candidate pair kept only when the true Jaccard of its shingle sets reaches the threshold) →
               MinhashDedupCluster → MinhashDedupFilter, with the step's shingle size and seed and the LSH
               bands × rows the lab derives from its threshold
  rule steps   LabRule: the lab's own step function, per batch of documents
Each pass writes the rows it keeps (the next pass's input) and, with their reason, the rows it removes.
"""
from __future__ import annotations

import json
import multiprocessing
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from lab.data.normalize import Table
from lab.data.pipeline import RunResult, StepReport, load_table
from lab.data.recipe import FilterRecipe
from lab.data.scale_passes import Passes, Plan
from lab.errors import LabError
from lab.settings import get_settings

ENGINE_STEPS = ("exact_dedup", "fuzzy_dedup", "refusals", "length", "regex", "empty")
_WHY = {"embeds": "embeds every row with a sentence-transformers model",
        "model": "scores every row with a model"}


def check_engine(recipe: FilterRecipe) -> None:
    """Refuse, before any loading, a recipe with an enabled step that datatrove does not run here."""
    for i, step in enumerate(recipe.steps):
        if step.enabled and step.type not in ENGINE_STEPS:
            raise LabError(f"Step {i + 1} ({step.label}) cannot run on the datatrove engine: it {_WHY[step.cost]}, "
                           "and this engine runs hashing and rule steps only.",
                           "Run the recipe with the in-memory engine (leave out --engine), or switch the step off "
                           "(enabled: false).", f"steps.{i}")


def write_shards(table, folder: Path, tasks: int) -> None:
    """The table as `tasks` JSONL files of consecutive rows: text = the row as JSON, id = its index. (Not
    gzipped: every pass reads and writes them, and compression would cost more CPU than the steps.)"""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(table)
    bounds = [round(n * s / tasks) for s in range(tasks + 1)]
    for shard in range(tasks):
        with open(folder / f"{shard:05d}.jsonl", "w", encoding="utf-8") as f:
            for i in range(bounds[shard], bounds[shard + 1]):
                doc = {"text": json.dumps(table.record(i), ensure_ascii=False), "id": str(i),
                       "metadata": {"shard": shard}}
                f.write(json.dumps(doc, ensure_ascii=False) + "\n")


def execute(recipe: FilterRecipe, tasks: int = 4, workers: int = -1, slurm: str = "", work=None,
            token: str | None = None, log=print):
    """Check the recipe and the settings, run in `work` (default: a temporary folder under LAB_HOME, removed
    afterwards; with Slurm, a given folder on storage every node mounts), return the RunResult."""
    recipe = FilterRecipe.parse(recipe)
    check_engine(recipe)
    if tasks < 1:
        raise LabError(f"--tasks {tasks} is below 1.", "Give at least 1 task.", "tasks")
    if slurm and not work:
        raise LabError("--slurm needs --work: the Slurm nodes read and write the shards there.",
                       "Pass --work DIR on storage every node mounts.", "work")
    if work is not None:
        folder = Path(work).expanduser()
        if folder.exists() and any(folder.iterdir()):
            raise LabError(f"{folder} is not empty.", "Give an empty or new --work folder.", "work")
    else:
        root = get_settings().home / "cache" / "datatrove"
        root.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    try:
        return run(recipe, Plan(folder.resolve(), tasks, workers, slurm), token, log)
    finally:
        if work is None:
            shutil.rmtree(folder, ignore_errors=True)


def prepare(recipe: FilterRecipe, plan: Plan, token: str | None = None) -> dict:
    """Load, normalize and shard the sources. Runs in a child process, so the rows never sit in the process
    that forks datatrove's workers."""
    table, sources = load_table(recipe, token, log=lambda m: None)
    write_shards(table, plan.work / "rows", plan.tasks)
    return {"rows": len(table), "form": table.form, "sources": sources}


def load_shards(folder: Path, form: str):
    """The table back from the shards (every row, in order), for the artifact."""
    rows, sources = [], []
    for path in sorted(folder.glob("*.jsonl")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                row = json.loads(json.loads(line)["text"])
                sources.append(row.pop("source", ""))
                rows.append(row)
    return Table(form, rows, sources)


def run(recipe: FilterRecipe, plan: Plan, token: str | None = None, log=print):
    """Run the recipe's steps on datatrove; returns the same RunResult the in-memory engine returns."""
    recipe = FilterRecipe.parse(recipe)
    check_engine(recipe)
    log(f"Loading {', '.join(s.label for s in recipe.sources)} into {plan.tasks} shards…")
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        info = pool.submit(prepare, recipe, plan, token).result()
    result = RunResult(None, np.arange(info["rows"]), [], [], info["sources"])
    passes = Passes(plan, info["form"], log)
    current = plan.work / "rows"
    for pos, step in enumerate(recipe.steps, 1):
        label = f"{pos}. {step.label}"
        if not step.enabled:
            result.funnel.append(StepReport(pos, step.type, label, False, len(result.kept), len(result.kept)))
            continue
        log(f"{label}: {len(result.kept)} rows in (datatrove, {plan.tasks} tasks)")
        start = time.perf_counter()
        current, removed, said = passes.run(pos, step, current)
        _record(result, pos, step, label, removed, time.perf_counter() - start, **said)
        log(f"{label}: {len(result.kept)} rows out ({result.funnel[-1].seconds:.1f} s)")
    result.table = load_shards(plan.work / "rows", info["form"])
    return result


def _record(result, pos: int, step, label: str, removed: list[dict], seconds: float, note: str = "",
            warning: str = "") -> None:
    rows_in = len(result.kept)
    for entry in removed:
        result.removed.append({"step": label, **entry})
    gone = np.array(sorted(e["row"] for e in removed), dtype=np.int64)
    result.kept = np.setdiff1d(result.kept, gone, assume_unique=True)
    result.funnel.append(StepReport(pos, step.type, label, True, rows_in, len(result.kept), seconds, note, warning))
    if len(result.kept) == 0:
        raise LabError(f"Step {label} removed every remaining row ({rows_in} → 0), so the run stopped and "
                       "nothing was saved.", "Loosen that step's settings or switch it off, then run again.",
                       f"steps.{pos - 1}")
