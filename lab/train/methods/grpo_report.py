"""What a GRPO run shows: the Train tab's live view (each reward's curve with the total, KL with the clipped
shares, answer length, the table of sample completions, the watcher's warnings) and its card's reward section
(rewards.png and a summary of each reward). The reward watcher (grpo_watch) writes the files read here.
"""
from __future__ import annotations

import json
from pathlib import Path

from lab.plots import curve_axes, save_curve
from lab.train.methods.rewards import unique_names

SAMPLES = "samples.jsonl"
WATCH = "watch.json"
SAMPLE_COLUMNS = ["prompt", "completion", "total"]


def read_watch(folder: Path) -> dict:
    path = Path(folder) / WATCH
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}


def read_samples(folder: Path, step: int | None = None) -> list[dict]:
    """The sample completions of one logged step (the latest by default)."""
    path = Path(folder) / SAMPLES
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    if not rows:
        return []
    step = rows[-1]["step"] if step is None else step
    return [r for r in rows if r["step"] == step]


def _series(metrics: list[dict], keys: dict[str, str]) -> list[dict]:
    return [{"step": m["step"], "value": m[k], "series": label} for m in metrics for label, k in keys.items()
            if k in m and m.get("step") is not None]


def grpo_curves(metrics: list[dict]) -> dict:
    """Rows for the GRPO plots: each reward's mean with the total, KL with the clipped shares, answer length."""
    names = sorted({k[len("reward_"):] for m in metrics for k in m
                    if k.startswith("reward_") and not k.endswith("_std") and k not in ("reward_std",
                                                                                         "reward_margin",
                                                                                         "reward_accuracy")})
    return {"rewards": _series(metrics, {"total": "reward", **{n: f"reward_{n}" for n in names}}),
            "kl": _series(metrics, {"KL": "kl", "clipped answers": "clipped_ratio",
                                    "clipped ratio": "ratio_clipped"}),
            "length": _series(metrics, {"completion length": "completion_length"})}


def samples_table(folder: Path) -> tuple[list[str], list[list]]:
    """(headers, rows) of the latest logged step's sample completions, each reward's score beside them."""
    rows = read_samples(folder)
    names = list(dict.fromkeys(n for r in rows for n in r.get("rewards", {})))
    headers = ["step", *SAMPLE_COLUMNS, *names]
    table = [[r["step"], r["prompt"][-300:], r["completion"][:600], round(r["total"], 3),
              *(None if r["rewards"].get(n) is None else round(r["rewards"][n], 3) for n in names)] for r in rows]
    return headers, table


def notes(folder: Path) -> list[str]:
    """What the run's watcher found, as markdown lines: no signal, skipped samples, the dominant reward."""
    watch = read_watch(folder)
    out = [f"⚠️ {watch['no_signal']}"] if watch.get("no_signal") else []
    out += [f"⚠️ reward `{name}` raised on {n} sample(s), left unscored (reward_errors: skip)"
            for name, n in (watch.get("skipped") or {}).items()]
    if watch.get("dominant"):
        share = watch["shares"].get(watch["dominant"], 0)
        out.append(f"Reward `{watch['dominant']}` dominates: {share:.0%} of the weighted reward spread.")
    return out


def reward_series(metrics: list[dict], names: list[str]) -> dict[str, list[tuple[int, float]]]:
    """reward name (and "total") -> [(step, mean)] from the run's metrics rows."""
    keys = {"total": "reward", **{n: f"reward_{n}" for n in names}}
    return {label: [(m["step"], m[key]) for m in metrics if key in m and "step" in m] for label, key in keys.items()}


def rewards_png(series: dict, out: Path) -> Path | None:
    if not any(series.values()):
        return None
    fig, ax = curve_axes()
    for label, points in series.items():
        if points:
            ax.plot(*zip(*points), label=label, lw=2.0 if label == "total" else 1.2)
    return save_curve(fig, ax, out, "step", "mean reward")


def _mean(points: list, first: bool) -> float | None:
    if not points:
        return None
    n = max(1, len(points) // 10)
    part = points[:n] if first else points[-n:]
    return sum(v for _, v in part) / len(part)


def card_extra(recipe, folder: Path, metrics: list[dict]) -> dict:
    """{"summary": markdown, "rewards": ...} for a GRPO run's manifest."""
    names = unique_names(recipe.method.rewards)
    series = reward_series(metrics, names)
    png = rewards_png(series, Path(folder) / "rewards.png")
    watch = read_watch(folder)
    rows = ["| reward | weight | mean, first 10 % of steps | mean, last 10 % |", "|---|---|---|---|"]
    for name, spec in [("total", None), *zip(names, recipe.method.rewards)]:
        what, weight = (f"`{spec.line}`", f"{spec.weight:g}") if spec else ("**total**", "")
        rows.append(f"| {what} | {weight} | {_fmt(_mean(series[name], True))} | {_fmt(_mean(series[name], False))} |")
    lines = ["## Rewards (GRPO)", "\n".join(rows)]
    if watch.get("dominant"):
        shares = ", ".join(f"{k} {v:.0%}" for k, v in watch["shares"].items())
        lines.append(f"Dominant reward: **{watch['dominant']}** ({shares} of the weighted spread).")
    if watch.get("no_signal"):
        lines.append(f"> ⚠️ {watch['no_signal']}")
    if watch.get("skipped"):
        lines.append("Samples left unscored after a reward error: " +
                     ", ".join(f"{k} {v}" for k, v in watch["skipped"].items()) + ".")
    if png:
        lines.append("![reward curves](rewards.png)")
    return {"summary": "\n\n".join(lines), "rewards": [s.line for s in recipe.method.rewards],
            "dominant_reward": watch.get("dominant", "")}


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def live_view(folder: Path, metrics: list[dict]) -> dict:
    """The GRPO parts of the Train tab's poll: curves, the samples table and the watcher's notes."""
    headers, rows = samples_table(folder)
    return {**grpo_curves(metrics), "samples": {"headers": headers, "rows": rows}, "notes": notes(folder)}
