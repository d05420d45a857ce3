"""The Experiments view without gradio: a row of settings and results per run, the settings that differ between
chosen runs, and their curves side by side (what `python -m lab runs list|compare` prints as JSON)."""
from __future__ import annotations

from lab.access import Caller
from lab.errors import LabError
from lab.runs.records import Run, run_for, visible_runs, wall_s

MIN_RUNS, MAX_RUNS = 2, 6
# chart -> the metrics.jsonl key it draws (GRPO's total reward is `reward`)
CURVES = {"loss": "loss", "eval_loss": "eval_loss", "reward": "reward", "lr": "lr"}
COLUMNS = ["id", "name", "state", "method", "model", "learning_rate", "lora_r", "steps", "train_loss", "eval_loss",
           "eval_scores", "peak_memory_gb", "memory_estimate_gb", "tokens_per_s", "wall_s"]


def flat_settings(recipe: dict, prefix: str = "") -> dict:
    """A nested recipe as one level: `method` is the method's name, its fields are `method.<field>`."""
    out = {}
    for key, value in recipe.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_settings(value, f"{name}."))
        else:
            out[name] = value
    if not prefix and "method.name" in out:
        out["method"] = out.pop("method.name")
    return out


def _last(metrics: list[dict], key: str):
    values = [m[key] for m in metrics if isinstance(m.get(key), (int, float))]
    return values[-1] if values else None


def _scores(manifest: dict) -> dict:
    return {f"{e['task']} · {e['metric']}": e.get("value") for e in manifest.get("evaluations", [])
            if e.get("task") and e.get("metric")}


def summary(run: Run) -> dict:
    """The run's row: key settings and results."""
    settings, metrics, final = flat_settings(run.recipe), run.metrics, run.manifest.get("metrics", {})
    memory = run.memory()
    steps = [m["step"] for m in metrics if "loss" in m and "step" in m]
    return {
        "id": run.id, "name": run.name, "state": run.job.state if run.job else "succeeded",
        "method": settings.get("method") or run.manifest.get("method"), "model": settings.get("model"),
        "learning_rate": settings.get("learning_rate"), "lora_r": settings.get("lora_r"),
        "steps": final.get("steps") or (steps[-1] if steps else 0),
        "train_loss": final.get("last_loss", _last(metrics, "loss")),
        "eval_loss": final.get("eval_loss", _last(metrics, "eval_loss")),
        "eval_scores": _scores(run.manifest),
        "peak_memory_gb": memory.get("peak_gb"), "memory_estimate_gb": memory.get("total_gb"),
        "tokens_per_s": final.get("tokens_per_s", _last(metrics, "tokens_per_s")),
        "wall_s": wall_s(run),
        "report_to": settings.get("report_to"),
    }


def list_view(caller: Caller, limit: int = 200) -> list[dict]:
    return [summary(r) for r in visible_runs(caller, limit)]


def labels(runs: list[Run]) -> list[str]:
    """One legend name per run: its name, with the id where two runs share a name."""
    names = [r.name for r in runs]
    return [n if names.count(n) == 1 else f"{n} ({r.id})" for n, r in zip(names, runs)]


def differing(runs: list[Run]) -> dict:
    """setting -> {run label: value}, for the settings whose values are not all the same."""
    flats = [flat_settings(r.recipe) for r in runs]
    out = {}
    for key in sorted(set().union(*flats)):
        values = [f.get(key) for f in flats]
        if any(v != values[0] for v in values[1:]):
            out[key] = dict(zip(labels(runs), values))
    return out


def curves(runs: list[Run]) -> dict:
    """chart -> {run label: [[step, value], ...]}; a chart no run logged is left out."""
    out = {}
    for chart, key in CURVES.items():
        lines = {}
        for label, run in zip(labels(runs), runs):
            points = [[m["step"], m[key]] for m in run.metrics if isinstance(m.get(key), (int, float)) and "step" in m]
            if points:
                lines[label] = points
        if lines:
            out[chart] = lines
    return out


def chosen(caller: Caller, run_ids: list[str]) -> list[Run]:
    run_ids = [run_ids] if isinstance(run_ids, str) or not isinstance(run_ids, (list, tuple)) else run_ids
    ids = list(dict.fromkeys(str(i).strip() for i in run_ids if str(i).strip()))
    if not MIN_RUNS <= len(ids) <= MAX_RUNS:
        raise LabError(f"{len(ids)} runs chosen; compare takes {MIN_RUNS} to {MAX_RUNS}.",
                       f"Pick between {MIN_RUNS} and {MAX_RUNS} runs.", "runs")
    return [run_for(caller, i) for i in ids]


def compare(caller: Caller, run_ids: list[str]) -> dict:
    """2–6 runs: their rows, the settings that differ, and their curves."""
    runs = chosen(caller, run_ids)
    return {"runs": [summary(r) for r in runs], "differ": differing(runs), "curves": curves(runs)}


def curve_rows(lines: dict) -> list[dict]:
    """One chart's lines as rows for a line plot: step, value, and the run the line belongs to (its legend name)."""
    return [{"step": int(step), "value": float(value), "run": label}
            for label, points in lines.items() for step, value in points]


def table_rows(rows: list[dict]) -> list[list]:
    """The list view as a table (eval scores as one text cell)."""
    def cell(row, col):
        value = row.get(col)
        if col == "eval_scores":
            return ", ".join(f"{k}: {v:.3g}" if isinstance(v, float) else f"{k}: {v}" for k, v in value.items())
        return round(value, 4) if isinstance(value, float) else value
    return [[cell(r, c) for c in COLUMNS] for r in rows]
