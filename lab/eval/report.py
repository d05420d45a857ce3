"""What an evaluation hands back: the results JSON (the CLI contract plus detail), the leaderboard table with
"vs base" deltas, the per-task bar chart, and the sample viewer's rows.
"""
from __future__ import annotations

import json
import math
import shlex
from importlib.metadata import version
from pathlib import Path

from lab.plots import pyplot


def clean(obj):
    """NaN and infinities become None, so the JSON is standard."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return obj


def _command(ev, row) -> str:
    s = ev.settings(row, "")
    device = "cpu" if ev.precision == "fp32" else "cuda"
    return (f"lm_eval --model hf --model_args {row.spec.model_args} --tasks {','.join(ev.plan.names)} "
            f"--include_path {shlex.quote(str(ev.tasks_dir))} --device {device} {s.cli_flags()}")


def _write_samples(ev, i: int, row) -> None:
    folder = ev.out / "samples" / str(i)
    for entry in row.entries.values():
        for task, items in entry.get("samples", {}).items():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{task}.json").write_text(json.dumps(clean(items), ensure_ascii=False))


def build_result(ev, seconds: float) -> dict:
    models = []
    for i, row in enumerate(ev.rows):
        _write_samples(ev, i, row)
        scores = {}
        for name in ev.plan.names:
            for task, values in row.entries.get(name, {}).get("scores", {}).items():
                scores[task] = values
        models.append({"model": row.ref, "label": row.spec.label if row.spec else row.ref,
                       "hash": row.spec.hash if row.spec else "", "error": row.error, "chat_template": row.chat,
                       "scores": scores, "cached": row.cached,
                       "unscored": {n: e["unscored"] for n, e in row.entries.items() if e.get("unscored")},
                       "lm_eval_command": _command(ev, row) if row.spec else ""})
    tasks = []
    for name in ev.plan.names:
        built = ev.plan.custom_task(name)
        metric = next((r.entries[name]["metric"] for r in ev.rows if name in r.entries), "")
        tasks.append({"name": name, "kind": built.kind if built else "lm-eval", "metric": built.metric if built
                      else metric, "source": built.source if built else "lm-eval", "custom": bool(built),
                      "yaml": str(ev.tasks_dir / f"{name}.yaml") if built else ""})
    r = ev.recipe
    return clean({"models": models, "tasks": tasks, "contamination": ev.contamination,
                  "settings": {"limit": r.limit, "num_fewshot": r.num_fewshot, "chat_template": r.chat_template,
                               "batch_size": r.batch_size, "precision": ev.precision,
                               "lm_eval": version("lm-eval")},
                  "seconds": round(seconds, 2), "out": str(ev.out)})


def load(out) -> dict:
    path = Path(out) / "results.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def headline(result: dict, model: dict, task: dict) -> tuple[float | None, float | None]:
    """(value, stderr) of a task's headline metric for a model."""
    values = model["scores"].get(task["name"], {})
    metric = task["metric"] or next((k for k in values if not k.endswith("_stderr")), "")
    return values.get(metric), values.get(f"{metric}_stderr")


def _cell(value, stderr, base) -> str:
    if value is None:
        return "—"
    text = f"{value:.3f}" + (f" ± {stderr:.3f}" if stderr is not None else "")
    return text + (f" ({value - base:+.3f})" if base is not None else "")


def leaderboard(result: dict) -> tuple[list[str], list[list]]:
    """(headers, rows): mean ± stderr per task, its delta to the first model (the base), and "vs base" per metric
    (deltas of different metrics are never averaged together)."""
    tasks = result.get("tasks", [])
    models = result.get("models", [])
    headers = ["model"] + [f"{t['name']} ({t['metric']})" for t in tasks] + ["vs base (per metric)"]
    rows = []
    base = models[0] if models else None
    for i, m in enumerate(models):
        cells, deltas = [m["label"]], {}
        for t in tasks:
            value, stderr = headline(result, m, t)
            ref = headline(result, base, t)[0] if i else None
            cells.append(_cell(value, stderr, ref))
            if value is not None and ref is not None:
                deltas.setdefault(t["metric"] or "score", []).append(value - ref)
        if m.get("error"):
            cells = [m["label"]] + ["failed"] * len(tasks)
            delta = m["error"].splitlines()[0][:200]
        else:
            delta = "base" if i == 0 else (per_metric(deltas) or "—")
        rows.append(cells + [delta])
    return headers, rows


def per_metric(deltas: dict[str, list[float]]) -> str:
    """'acc +0.050 (mean of 2 tasks) · exact_match +0.100': one mean per metric, each named."""
    parts = []
    for metric, values in deltas.items():
        mean = sum(values) / len(values)
        parts.append(f"{metric} {mean:+.3f}" + (f" (mean of {len(values)} tasks)" if len(values) > 1 else ""))
    return " · ".join(parts)


def chart(result: dict):
    """A grouped bar chart: one group per task, one bar per model, stderr as error bars."""
    plt = pyplot()
    tasks, models = result.get("tasks", []), [m for m in result.get("models", []) if not m.get("error")]
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(tasks) * max(1, len(models)) / 2), 3.4))
    width = 0.8 / max(1, len(models))
    for j, m in enumerate(models):
        vals = [headline(result, m, t) for t in tasks]
        xs = [i + (j - (len(models) - 1) / 2) * width for i in range(len(tasks))]
        ax.bar(xs, [v or 0 for v, _ in vals], width, yerr=[s or 0 for _, s in vals], capsize=3, label=m["label"])
    ax.set_xticks(range(len(tasks)), [f"{t['name']}\n{t['metric']}" for t in tasks], fontsize=8)
    ax.set_ylabel("score")
    ax.grid(axis="y", alpha=0.3)
    if models:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def samples(out, result: dict, task: str, worse_than_base: bool = False) -> tuple[list[str], list[list]]:
    """The sample viewer: each item's prompt and target, then every model's answer marked right or wrong.
    worse_than_base keeps the items the base got right and some other model got wrong."""
    models = result.get("models", [])
    per_model = []
    for i, m in enumerate(models):
        path = Path(out) / "samples" / str(i) / f"{task}.json"
        per_model.append({s["id"]: s for s in (json.loads(path.read_text()) if path.is_file() else [])})
    ids = sorted({k for d in per_model for k in d})
    headers = ["#", "question", "target"] + [m["label"] for m in models]
    rows = []
    for k in ids:
        first = next(d[k] for d in per_model if k in d)
        marks = [_mark(d.get(k)) for d in per_model]
        if worse_than_base and not (per_model[0].get(k, {}).get("correct") and
                                    any(d.get(k, {}).get("correct") is False for d in per_model[1:])):
            continue
        rows.append([k, (first.get("question") or first.get("prompt", ""))[:400], first.get("target", "")] + marks)
    return headers, rows


def samples_note(rows: list, task: str | None, worse_than_base: bool) -> str:
    """A sentence where the sample viewer has no rows to show (never a bare empty table)."""
    if rows:
        return ""
    if not task:
        return "No items to show: this run recorded no answers."
    if worse_than_base:
        return (f"None on **{task}**: no item the base got right was got wrong by another model. Untick the filter "
                "to see every item.")
    return f"No items of **{task}** were recorded."


def _mark(sample: dict | None) -> str:
    if sample is None:
        return "—"
    answer = str(sample.get("answer", ""))[:300]
    if sample.get("correct") is True:
        return f"✓ {answer}"
    if sample.get("correct") is False:
        return f"✗ {answer}"
    value = sample.get("value")
    return f"{'unscored' if value is None else f'{value:g}'} · {answer}"


def sample_tasks(out) -> list[str]:
    """The tasks whose items the sample viewer can show."""
    return sorted({p.stem for p in Path(out).glob("samples/*/*.json")})
