"""What a GRPO run adds to its card: the reward curves (rewards.png) and a summary of each reward."""
from __future__ import annotations

from pathlib import Path


def reward_series(metrics: list[dict], names: list[str]) -> dict[str, list[tuple[int, float]]]:
    """reward name (and "total") -> [(step, mean)] from the run's metrics rows."""
    keys = {"total": "reward", **{n: f"reward_{n}" for n in names}}
    return {label: [(m["step"], m[key]) for m in metrics if key in m and "step" in m] for label, key in keys.items()}


def rewards_png(series: dict, out: Path) -> Path | None:
    if not any(series.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    for label, points in series.items():
        if points:
            ax.plot(*zip(*points), label=label, lw=2.0 if label == "total" else 1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("mean reward")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def _mean(points: list, first: bool) -> float | None:
    if not points:
        return None
    n = max(1, len(points) // 10)
    part = points[:n] if first else points[-n:]
    return sum(v for _, v in part) / len(part)


def card_extra(recipe, folder: Path, metrics: list[dict]) -> dict:
    """{"summary": markdown, "rewards": ...} for a GRPO run's manifest; nothing for other methods."""
    if recipe.method != "grpo":
        return {}
    from lab.train.grpo_watch import read_watch
    from lab.train.rewards import unique_names

    names = unique_names(recipe.rewards)
    series = reward_series(metrics, names)
    png = rewards_png(series, Path(folder) / "rewards.png")
    watch = read_watch(folder)
    rows = ["| reward | weight | mean, first 10 % of steps | mean, last 10 % |", "|---|---|---|---|"]
    for name, spec in [("total", None), *zip(names, recipe.rewards)]:
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
    return {"summary": "\n\n".join(lines), "rewards": [s.line for s in recipe.rewards],
            "dominant_reward": watch.get("dominant", "")}


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3f}"
