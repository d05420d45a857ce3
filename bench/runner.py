"""Run one Pair: setup, warm-up, then lab and baseline interleaved (A B A B …); statistics, ratios, targets."""
from __future__ import annotations

import math
import os
import shutil
import statistics
import tempfile
import time

from bench.core import ROOT, Pair, Run, measure


class Budget:
    """The overall time budget of one `python -m bench` run (None: unlimited)."""

    def __init__(self, seconds: float | None):
        self.deadline = time.monotonic() + seconds if seconds else None

    def left(self) -> float:
        return math.inf if self.deadline is None else self.deadline - time.monotonic()


def base_env(scratch: str, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["BENCH_TMP"] = scratch
    env.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    env.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    env.update({k: str(v).replace("{tmp}", scratch) for k, v in extra.items()})
    return env


def stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def summarize(runs: list[Run]) -> dict[str, dict]:
    """Per measure: median, min, max over the runs that have it."""
    by_key: dict[str, list[float]] = {}
    for run in runs:
        for key, value in run.measures().items():
            by_key.setdefault(key, []).append(value)
    return {key: stats(values) for key, values in by_key.items()}


def ratios(reps: list[tuple[Run, Run]], lab: dict, base: dict) -> dict[str, dict]:
    """lab/baseline: the ratio of medians, and the spread of the per-rep paired ratios."""
    out = {}
    for key in sorted(set(lab) & set(base)):
        if base[key]["median"] == 0:
            continue
        paired = [a.measures()[key] / b.measures()[key] for a, b in reps
                  if key in a.measures() and b.measures().get(key)]
        out[key] = {"ratio": lab[key]["median"] / base[key]["median"],
                    "min": min(paired, default=None), "max": max(paired, default=None)}
    return out


def evaluate(pair: Pair, lab: dict, rat: dict) -> list[dict]:
    """One verdict per target: the value it is checked against, the limit, the direction and pass/fail."""
    checks = []
    for key, limit in pair.targets.items():
        measure_key, kind = pair.target_measure(key)
        way = pair.directions[measure_key]
        source = rat.get(measure_key, {}).get("ratio") if kind == "ratio" else lab.get(measure_key, {}).get("median")
        ok = source is not None and (source <= limit if way == "lower" else source >= limit)
        checks.append({"target": key, "measure": measure_key, "kind": kind, "direction": way, "limit": limit,
                       "value": source, "pass": ok})
    return checks


def _sides(pair: Pair, scratch: str) -> list[tuple[str, list[str]]]:
    sub = lambda argv: [a.replace("{tmp}", scratch) for a in argv]  # noqa: E731
    sides = [("lab", sub(pair.lab))]
    if pair.baseline is not None:
        sides.append(("baseline", sub(pair.baseline)))
    return sides


def _timed(argv, env, name, pair: Pair, budget: Budget) -> Run:
    left = budget.left()
    run = measure(argv, env, name, max(1.0, min(pair.timeout_s, left)))
    if run.error.startswith("timed out") and left < pair.timeout_s:
        run.error = "stopped: the overall time budget ran out\n" + run.error
    return run


def _reps(pair, sides, env, n, budget, log) -> tuple[list[list[Run]], str]:
    """The interleaved repetitions; returns the complete reps and an error ('' when none)."""
    done: list[list[Run]] = []
    for i in range(n):
        started = time.monotonic()
        rep = []
        for name, argv in sides:
            run = _timed(argv, env, name, pair, budget)
            log(f"  rep {i + 1}/{n} {name}: {run.wall_s:.2f} s, {run.rss_mb:.0f} MB"
                + (f"  FAILED: {run.error.splitlines()[0]}" if run.error else ""))
            if not run.ok:
                return done, f"{name} side, rep {i + 1}: {run.error}"
            rep.append(run)
        done.append(rep)
        if i + 1 < n and budget.left() < time.monotonic() - started:
            return done, ""  # the next rep would not fit: keep what we have
    return done, ""


def _prepare(pair, sides, env, budget, log) -> str:
    """Setup once, then warm-up runs; returns an error or ''."""
    if pair.setup:
        argv = [a.replace("{tmp}", env["BENCH_TMP"]) for a in pair.setup]
        run = _timed(argv, env, "setup", pair, budget)
        log(f"  setup: {run.wall_s:.1f} s")
        if not run.ok:
            return f"setup: {run.error}"
    for _ in range(pair.warmup):
        for name, argv in sides:
            run = _timed(argv, env, name, pair, budget)
            if not run.ok:
                return f"{name} side, warm-up: {run.error}"
    return ""


def run_pair(pair: Pair, reps: int, budget: Budget, log=print) -> dict:
    """Measure one pair; the dict goes into results.json as is."""
    scratch = tempfile.mkdtemp(prefix=f"bench-{pair.name}-")
    env = base_env(scratch, pair.env)
    sides = _sides(pair, scratch)
    started, load = time.monotonic(), round(os.getloadavg()[0], 2)
    try:
        error = _prepare(pair, sides, env, budget, log)
        done, rep_error = ([], "") if error else _reps(pair, sides, env, reps, budget, log)
        error = error or rep_error
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    lab = summarize([rep[0] for rep in done])
    base = summarize([rep[1] for rep in done]) if pair.baseline is not None else {}
    rat = ratios([(rep[0], rep[1]) for rep in done], lab, base) if base else {}
    checks = evaluate(pair, lab, rat)
    if error or not done:
        status = "ERROR"
    elif not checks:
        status = "INFO"
    else:
        status = "PASS" if all(c["pass"] for c in checks) else "FAIL"
    return {"name": pair.name, "note": pair.note, "gpu": pair.gpu, "status": status, "error": error,
            "reps_planned": reps, "reps_done": len(done), "duration_s": round(time.monotonic() - started, 2),
            "load_avg_1m": load, "load_avg_1m_end": round(os.getloadavg()[0], 2),
            "lab_cmd": pair.lab, "baseline_cmd": pair.baseline,
            "directions": pair.directions, "lab": lab, "baseline": base, "ratios": rat, "targets": checks,
            "runs": [[r.to_dict() for r in rep] for rep in done]}


def skipped(pair: Pair, reason: str) -> dict:
    return {"name": pair.name, "note": pair.note, "gpu": pair.gpu, "status": "SKIPPED", "error": reason,
            "reps_planned": 0, "reps_done": 0, "duration_s": 0, "lab_cmd": pair.lab, "baseline_cmd": pair.baseline,
            "directions": pair.directions, "lab": {}, "baseline": {}, "ratios": {}, "targets": [], "runs": []}
