"""The fast-path report (bench/gpu/fast.py) as numbers and Markdown: the issue's columns side by side, the ratios
and the goals marked PASS or FAIL. Pure: no torch, so CI checks it on made-up numbers.

Columns: raw TRL with its defaults, the lab with its defaults, the lab with engine unsloth, a raw Unsloth script.
Each cell holds tokens/s, peak VRAM (GB, reserved) and the final loss, or why it has none ("not installed", an
error, "out of time").
"""
from __future__ import annotations

COLUMNS = ("trl", "lab", "lab_unsloth", "unsloth")
TITLES = {"trl": "raw TRL (defaults)", "lab": "lab (defaults)", "lab_unsloth": "lab, engine unsloth",
          "unsloth": "raw Unsloth"}
GOALS = {  # the goals: (measure, test, text)
    "lab_speed": "lab tokens/s ≥ 1.5× raw TRL",
    "lab_vram": "lab peak VRAM ≤ 0.7× raw TRL",
    "lab_loss": "lab final loss within 1 % of raw TRL",
    "unsloth_parity": "lab on Unsloth 0.95–1.05× raw Unsloth tokens/s",
}


def _ratio(a, b) -> float | None:
    return round(a / b, 3) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else "PASS" if ok else "FAIL"


def compare(row: dict) -> dict:
    """Ratios and goal verdicts of one configuration's columns (missing numbers give None, shown as —)."""
    trl, lab, lu, un = (row.get(c) or {} for c in COLUMNS)
    speed = _ratio(lab.get("tokens_per_s"), trl.get("tokens_per_s"))
    vram = _ratio(lab.get("peak_vram_gb"), trl.get("peak_vram_gb"))
    loss = _ratio(lab.get("final_loss"), trl.get("final_loss"))
    parity = _ratio(lu.get("tokens_per_s"), un.get("tokens_per_s"))
    return {
        "speed_ratio": speed, "vram_ratio": vram, "loss_ratio": loss, "unsloth_ratio": parity,
        "lab_speed": None if speed is None else speed >= 1.5,
        "lab_vram": None if vram is None else vram <= 0.7,
        "lab_loss": None if loss is None else abs(loss - 1) <= 0.01,
        "unsloth_parity": None if parity is None else 0.95 <= parity <= 1.05,
    }


def cell(run: dict | None) -> str:
    """'1234 tok/s · 5.6 GB · loss 1.234', or why there is no number."""
    run = run or {}
    if run.get("skipped"):
        return run["skipped"]
    if run.get("error"):
        return "error: " + str(run["error"]).splitlines()[-1][:80].replace("|", "/")
    tps, vram, loss = run.get("tokens_per_s"), run.get("peak_vram_gb"), run.get("final_loss")
    parts = [f"{tps:.0f} tok/s" if tps is not None else "— tok/s",
             f"{vram:.2f} GB" if vram is not None else "— GB",
             f"loss {loss:.4f}" if loss is not None else "loss —"]
    return " · ".join(parts)


def config_name(row: dict) -> str:
    return f"{row['size']} {row['adapter']} {row['method']}"


def markdown(report: dict) -> list[str]:
    rows = report.get("rows", [])
    head = (f"**The fast path against raw TRL and Unsloth** ({report.get('steps')} steps, batch "
            f"{report.get('batch')}, max length {report.get('seq')}, Llama models built from config; one run each):")
    lines = [head, "", "| config | " + " | ".join(TITLES[c] for c in COLUMNS) + " | lab/TRL tokens/s | lab/TRL VRAM | "
             "lab/TRL loss | lab-Unsloth/Unsloth |", "|" + "---|" * (len(COLUMNS) + 5)]
    verdicts: dict[str, list[bool]] = {g: [] for g in GOALS}
    for row in rows:
        c = compare(row)
        for g in GOALS:
            if c[g] is not None:
                verdicts[g].append(c[g])
        fmt = lambda x: "—" if x is None else f"{x:.2f}"  # noqa: E731
        lines.append(f"| {config_name(row)} | " + " | ".join(cell(row.get(col)) for col in COLUMNS)
                     + f" | {fmt(c['speed_ratio'])} {_verdict(c['lab_speed'])} | {fmt(c['vram_ratio'])} "
                       f"{_verdict(c['lab_vram'])} | {fmt(c['loss_ratio'])} {_verdict(c['lab_loss'])} | "
                       f"{fmt(c['unsloth_ratio'])} {_verdict(c['unsloth_parity'])} |")
    lines += ["", "Goals: " + "; ".join(f"{text}: {_verdict(all(v)) if v else 'not measured'}"
                                        for g, text in GOALS.items() for v in [verdicts[g]]) + ".", ""]
    return lines


def intervals(rows: list[dict]) -> list[dict]:
    """Logged rows ({step, loss, step_time (mean over the row's steps), tokens}) as intervals of steps: a row
    covers the steps since the row before it (the lab's GPU runs log every few steps)."""
    out, last = [], 0
    for r in sorted((r for r in rows if "loss" in r), key=lambda r: r["step"]):
        n = max(1, r["step"] - last)
        out.append({"end": r["step"], "steps": n, "seconds": r.get("step_time", 0) * n, "tokens": r.get("tokens"),
                    "loss": r["loss"]})
        last = r["step"]
    return out


def speed(timed: list[dict]) -> float | None:
    """Real tokens per second over every interval but a first one that is step 1 alone (its warm-up)."""
    use = [t for t in timed if t.get("tokens") and not (t["end"] == 1 and t["steps"] == 1)] or \
        [t for t in timed if t.get("tokens")]
    seconds = sum(t["seconds"] for t in use)
    return round(sum(t["tokens"] for t in use) / seconds, 1) if use and seconds else None


def final_loss(losses: list[dict], total_steps: int, window: int = 10) -> float | None:
    """The mean loss of the last `window` steps (raw TRL logs the mean of every 10), a row that straddles the
    window's start counted for its steps inside it."""
    start = total_steps - window  # steps start+1 .. total_steps
    num = den = 0.0
    for t in losses:
        first = t["end"] - t["steps"] + 1
        inside = max(0, t["end"] - max(first, start + 1) + 1)
        num += t["loss"] * inside
        den += inside
    if den:
        return round(num / den, 5)
    return losses[-1]["loss"] if losses else None
