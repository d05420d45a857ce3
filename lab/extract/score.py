"""The extract's check on a task: the full model and the adapter on its base, scored by the Evaluate engine on the
same task and items (as an evolve candidate is scored: lab.eval.run.evaluate, one headline per model), and recorded
like any evaluation (the adapter's card, the scores index)."""
from __future__ import annotations

from pathlib import Path

from lab.access import Caller
from lab.errors import LabError
from lab.eval.access import check_task_files
from lab.eval.flow import new_out
from lab.eval.plan import make
from lab.eval.recipe import EvalRecipe
from lab.eval.record import record
from lab.eval.run import evaluate
from lab.merge.evolve_score import headline

FIELD = "eval_task"


def check_task(task: str, limit: int | None, caller: Caller, token=None) -> None:
    """Refused before any work, naming `eval_task`: an unknown task name, a missing or malformed task file, a
    file that is not the visitor's own upload."""
    if not task.strip():
        return
    try:
        recipe = EvalRecipe.parse({"tasks": [task.strip()], "limit": limit})
        check_task_files(caller, recipe)
        make(recipe, token, caller)
    except LabError as exc:
        raise LabError(exc.what, exc.fix, FIELD) from None


def compare(task: str, limit: int | None, full: str, base: str, adapter: Path, token=None, log=print,
            progress=None) -> dict:
    """The full model and BASE+ADAPTER on `task` (first `limit` items): {task, metric, full, adapter, difference}
    (difference: adapter minus full), with the Evaluate results folder."""
    recipe = EvalRecipe.parse({"models": [full, f"{base}+{adapter}"], "tasks": [task.strip()], "limit": limit,
                               "contamination": False})
    out = new_out(f"eval-{Path(adapter).name}")
    log(f"Scoring the full model and the adapter on its base on {task.strip()}…")
    result = evaluate(recipe, out, token, log=log, progress=progress)
    full_score, full_per = headline(result, 0)
    adapter_score, adapter_per = headline(result, 1)
    record(result)  # the adapter's card lists the score beside the full model's; the family tree colours by it
    metrics = sorted({t["metric"] for t in result.get("tasks", [])})
    return {"task": task.strip(), "limit": limit, "metric": ", ".join(metrics), "full": round(full_score, 6),
            "adapter": round(adapter_score, 6), "difference": round(adapter_score - full_score, 6),
            "per_task": {t: {"full": full_per.get(t), "adapter": v} for t, v in adapter_per.items()},
            "results": str(out)}


def label(task: str) -> str:
    """A task as a card names it: a file by its name (never a server path), a task name as it is."""
    return Path(task).name if Path(task).is_absolute() or Path(task).suffix else task


def summary(scores: dict) -> str:
    """One sentence for the card."""
    items = f" (first {scores['limit']} items)" if scores.get("limit") else ""
    return (f"On `{label(scores['task'])}`{items}, {scores['metric'] or 'score'}: the adapter on its base scores "
            f"{scores['adapter']:.4f}, the full model {scores['full']:.4f} (difference {scores['difference']:+.4f}).")
