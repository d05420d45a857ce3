"""Evaluation in the loop: one call for the job, the CLI, a train job's last step, a merge job and the tour.
It runs the evaluation, records the scores in the artifacts and the index, and sums the run up in a line."""
from __future__ import annotations

import time
from pathlib import Path

from lab.errors import LabError
from lab.eval import contamination, plan, record as eval_record, run
from lab.eval.recipe import EvalRecipe
from lab.models.ref import parse as parse_ref
from lab.settings import get_settings


def new_out(stem: str = "eval") -> Path:
    """A fresh results folder under LAB_HOME/evals (never an existing one)."""
    root = get_settings().home / "evals"
    path = root / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}-{n}"
    return path


def evaluate_and_record(recipe: EvalRecipe, out: Path, token: str | None = None, log=print, progress=None) -> dict:
    result = run.evaluate(recipe, out, token, log, progress)
    result["recorded"] = eval_record.record(result)
    for line in summary(result)["lines"]:
        log(line)
    return result


def summary(result: dict) -> dict:
    """The run in a message, plus lines for the log: failures, unscored items, contamination."""
    models = result.get("models", [])
    failed = [m for m in models if m.get("error")]
    unscored = sum(n for m in models for n in m.get("unscored", {}).values())
    lines = [f"{m['label']} failed: {m['error'].splitlines()[0]}" for m in failed]
    if unscored:
        lines.append(f"{unscored} item(s) went unscored (the judge gave no verdict); re-run to retry them.")
    for ref, per_task in result.get("contamination", {}).items():
        lines += [f"{_named(ref)}: {line}" for line in contamination.describe(per_task)]
    message = f"Done: {len(models) - len(failed)} of {len(models)} model(s) on {len(result.get('tasks', []))} " \
              f"task(s)" + (f", {unscored} item(s) unscored" if unscored else "") + "."
    return {"message": message, "lines": lines, "failed": len(failed), "unscored": unscored}


def _named(ref: str) -> str:
    """A model as the results name it (a folder by its name), whether or not it still exists."""
    try:
        return parse_ref(ref).label
    except LabError:
        return Path(ref).name if ref.startswith("/") else ref


def check_tasks(tasks: list[str], token: str | None = None) -> None:
    """Before a train or merge job's expensive part: every task file is read and checked, every name known."""
    try:
        plan.make(EvalRecipe.parse({"tasks": list(tasks)}), token)
    except LabError as exc:
        raise LabError(exc.what, exc.fix, "eval_tasks") from None


def after_training(tasks: list[str], base: str, artifact: Path, token: str | None = None, log=print) -> dict:
    """A train job's last step: base vs fine-tune on `tasks`; the scores go into the adapter's card."""
    models = [base, f"{base}+{artifact}"] if (Path(artifact) / "adapter_config.json").is_file() \
        else [base, str(artifact)]
    return _in_loop(models, tasks, f"{Path(artifact).name}", token, log)


def after_merge(tasks: list[str], parents: list[str], merged: Path, token: str | None = None, log=print) -> dict:
    """A merge job's last step: the merge against its parent models (the first parent is the base)."""
    models = list(dict.fromkeys(parents))[:5] + [str(merged)]
    return _in_loop(models, tasks, Path(merged).name, token, log)


def _in_loop(models: list[str], tasks: list[str], stem: str, token, log) -> dict:
    recipe = EvalRecipe.parse({"models": models, "tasks": list(tasks)})
    out = new_out(f"eval-{stem}")
    log(f"Evaluating {', '.join(models)} on {', '.join(tasks)}…")
    result = evaluate_and_record(recipe, out, token, log)
    return {"out": str(out), "message": summary(result)["message"],
            "scores": {m["model"]: m["scores"] for m in result["models"]}}
