"""results.json (merged across runs of different suites), RESULTS.md and PERFORMANCE.md."""
from __future__ import annotations

import fcntl
import json
import re
import shlex
from pathlib import Path

from bench.core import BUILTIN, PYTHON, ROOT
from bench.machine import machine_id, machine_line, versions_line

INTRO = ("Each benchmark runs the lab's side (its real code path: the CLI, a job or the app) and, where there is one, "
         "the baseline (the short script a user would write without the lab) as subprocesses, interleaved A B A B. "
         "`wall_s` is wall time; `rss_mb` the peak RSS of the side's whole process tree (psutil, sampled every "
         "50 ms, or wait4's ru_maxrss if larger); `cpu_s` user+system CPU time. Other measures come from the "
         "side's `BENCH_RESULT` line. Cells read median (min–max). lab/baseline is the ratio of the medians, with "
         "the min–max of the per-repetition paired ratios. ↓ lower is better, ↑ higher is better.")


def fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    size = abs(value)
    if size >= 100 or value == int(value) and size >= 10:
        return f"{value:.0f}"
    return f"{value:.1f}" if size >= 10 else f"{value:.2f}" if size >= 1 else f"{value:.3g}"


def short_cmd(argv: list[str] | None) -> str:
    if not argv:
        return "none (absolute targets)"
    words = ["python" if a == PYTHON else a.replace(str(ROOT) + "/", "") for a in argv]
    return "`" + shlex.join(words) + "`"


_CHECKOUT = re.compile(r"(?<![\w.~-])/[^\s\"']*?/(?=(?:bench|lab|tests)/)")  # any checkout's root, up to its folders


def portable(value):
    """The run's record without this machine's paths: the interpreter is `python`, files in a checkout are
    relative to it, the shared data is ../shared, the home folder is ~ (results.json is committed)."""
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v) for v in value]
    if not isinstance(value, str):
        return value
    value = value.replace(PYTHON, "python").replace(str(ROOT.parent / "shared"), "../shared").replace(str(Path.home()), "~")
    return _CHECKOUT.sub("", value)


def merge(out_dir: Path, run: dict, known_suites: set[str]) -> dict:
    """Fold this run's suites into the previous results.json, so `--only X` refreshes X and keeps the rest."""
    with open(out_dir / "results.json", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # two `--only` runs at once must not drop each other's suites
        f.seek(0)
        try:
            old = json.loads(f.read() or "{}")
        except ValueError:
            old = {}
        suites = {k: v for k, v in old.get("suites", {}).items() if k in known_suites and k not in run["suites"]}
        for entry in suites.values():
            entry["kept"] = True  # measured by an earlier run; its own date says when
        for name, entry in run["suites"].items():
            _keep_pairs(entry, old.get("suites", {}).get(name))
        merged = portable({**run, "suites": dict(sorted({**suites, **run["suites"]}.items()))})
        f.seek(0)
        f.truncate()
        f.write(json.dumps(merged, indent=2, default=str) + "\n")
    return merged


def _keep_pairs(entry: dict, old: dict | None) -> None:
    """`--only suite/pair` refreshes that pair; the suite's other pairs keep their earlier results."""
    ran = {p["name"] for p in entry["pairs"]}
    for p in (old or {}).get("pairs", []):
        if p["name"] in entry.get("defined", []) and p["name"] not in ran:
            entry["pairs"].append({**p, "kept": old.get("date", "")})
    order = entry.get("defined", [])
    entry["pairs"].sort(key=lambda p: order.index(p["name"]) if p["name"] in order else len(order))


def _cell(stat: dict | None) -> str:
    if not stat:
        return "—"
    if stat["n"] == 1 or stat["min"] == stat["max"]:
        return fmt(stat["median"])
    return f"{fmt(stat['median'])} ({fmt(stat['min'])}–{fmt(stat['max'])})"


def _ratio_cell(r: dict | None) -> str:
    if not r:
        return "—"
    spread = f" ({fmt(r['min'])}–{fmt(r['max'])})" if r["min"] is not None and r["min"] != r["max"] else ""
    return f"{fmt(r['ratio'])}×{spread}"


def _target_cell(checks: list[dict]) -> tuple[str, str]:
    if not checks:
        return "", ""
    sign = lambda c: "≤" if c["direction"] == "lower" else "≥"  # noqa: E731
    text = "; ".join(("ratio " if c["kind"] == "ratio" else "") + f"{sign(c)} {fmt(c['limit'])}" for c in checks)
    return text, "PASS" if all(c["pass"] for c in checks) else "**FAIL**"


def _measures(p: dict) -> list[str]:
    keys = list(BUILTIN) + [k for k in p["directions"] if k not in BUILTIN]
    extra = sorted((set(p["lab"]) | set(p["baseline"])) - set(keys))
    return [k for k in keys if k in p["lab"] or k in p["baseline"]] + extra


def pair_md(suite: str, p: dict) -> list[str]:
    lines = [f"### {suite}/{p['name']} — {p['status']}", ""]
    if p["note"]:
        lines += [p["note"], ""]
    reps = f"- repetitions: {p['reps_done']} of {p['reps_planned']}, {fmt(p['duration_s'])} s in all"
    if p.get("load_avg_1m"):
        reps += f"; load average {fmt(p['load_avg_1m'])} → {fmt(p['load_avg_1m_end'])}"
    if p.get("kept"):
        reps += f"; kept from an earlier run ({p['kept']})"
    lines += [f"- lab: {short_cmd(p['lab_cmd'])}", f"- baseline: {short_cmd(p['baseline_cmd'])}", reps, ""]
    if p["error"]:
        lines += ["```", p["error"].strip()[-1500:], "```", ""]
    if not p["lab"]:
        return lines
    lines += ["| measure | lab | baseline | lab/baseline | target | result |", "|---|---|---|---|---|---|"]
    for key in _measures(p):
        way = {"lower": " ↓", "higher": " ↑"}.get(p["directions"].get(key, ""), "")
        target, verdict = _target_cell([c for c in p["targets"] if c["measure"] == key])
        lines.append(f"| {key}{way} | {_cell(p['lab'].get(key))} | {_cell(p['baseline'].get(key))} | "
                     f"{_ratio_cell(p['ratios'].get(key))} | {target} | {verdict} |")
    return lines + [""]


def _summary(results: dict) -> list[str]:
    lines = ["| benchmark | result | reps | checks |", "|---|---|---|---|"]
    for suite, entry in results["suites"].items():
        if entry.get("error") and not entry.get("pairs"):
            lines.append(f"| {suite} | {entry['status'].upper()} | | {entry['error'].splitlines()[0]} |")
        for p in entry.get("pairs", []):
            checks = "; ".join(f"{c['target']} {fmt(c['value'])} {'≤' if c['direction'] == 'lower' else '≥'} "
                               f"{fmt(c['limit'])}" for c in p["targets"])
            if p["error"] and p["status"] in ("ERROR", "SKIPPED"):
                checks = p["error"].splitlines()[0]
            lines.append(f"| {suite}/{p['name']} | {p['status']} | {p['reps_done']} | {checks} |")
    return lines + [""]


def _header(results: dict, title: str) -> list[str]:
    m = results["machine"]
    mode = "quick" if results["quick"] else "full"
    return [title, "", f"- date: {m['date']} ({mode} mode: `{results['command']}`, {fmt(results['duration_s'])} s)",
            f"- machine: {machine_line(m)}", f"- versions: {versions_line(m)}", *_busy(m), ""]


def _busy(m: dict) -> list[str]:
    load = m.get("load_avg", [0])[0]
    if load <= 0.5 * (m["cores_logical"] or 1):
        return []
    return [f"- note: the machine was busy (load average {fmt(load)} on {m['cores_logical']} cores when the run "
            "began), so wall times are inflated; compare ratios, which interleaving keeps fair."]


def results_md(results: dict) -> str:
    lines = _header(results, "# Benchmark results") + [INTRO, "", "## Summary", ""] + _summary(results)
    for note in results.get("notes", []):
        lines.append(f"- {note}")
    if results.get("notes"):
        lines.append("")
    gpu: list[tuple[str, dict]] = []
    here = machine_id(results["machine"])
    for suite, entry in results["suites"].items():
        lines += [f"## {suite}", ""]
        if entry.get("kept"):
            lines += [f"Kept from an earlier run ({entry['date']}, {entry['mode']} mode)."
                      + ("" if entry.get("machine_id") == here else f" Machine: {entry.get('machine_id')}."), ""]
        if entry.get("error"):
            lines += ["```", entry["error"].strip()[-1500:], "```", ""]
        for p in entry.get("pairs", []):
            if p["gpu"]:
                gpu.append((suite, p))
            else:
                lines += pair_md(suite, p)
    lines += ["## GPU", ""]
    if not results["machine"]["cuda"]:
        lines += ["CUDA is absent on this machine: GPU benchmarks were skipped.", ""]
    for suite, p in gpu:
        lines += pair_md(suite, p)
    from bench.gpu.summary import markdown

    lines += markdown()
    return "\n".join(lines).rstrip() + "\n"


def performance_md(results: dict) -> str:
    """The README's Performance section: one row per checked measure."""
    lines = _header(results, "## Performance")[:-1]
    lines += ["", "The lab against what a user would otherwise run (`python -m bench`, tables in bench/RESULTS.md). "
              "Medians over the repetitions; lab/baseline below 1 means the lab is faster or smaller.", "",
              "| benchmark | measure | lab | baseline | lab/baseline | target | result |",
              "|---|---|---|---|---|---|---|"]
    for suite, entry in results["suites"].items():
        for p in entry.get("pairs", []):
            keys = list(dict.fromkeys(c["measure"] for c in p["targets"])) or ["wall_s"]
            for key in keys:
                target, verdict = _target_cell([c for c in p["targets"] if c["measure"] == key])
                lab = fmt(p["lab"].get(key, {}).get("median"))
                base = fmt(p["baseline"].get(key, {}).get("median"))
                if p["status"] in ("ERROR", "SKIPPED") or not verdict:
                    verdict = p["status"]
                lines.append(f"| {suite}/{p['name']} | {key} | {lab} | {base} | {_ratio_cell(p['ratios'].get(key))}"
                             f" | {target} | {verdict} |")
    return "\n".join(lines) + "\n"


def write(out_dir: Path, run: dict, known_suites: set[str]) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    merged = merge(out_dir, run, known_suites)
    (out_dir / "RESULTS.md").write_text(results_md(merged))
    (out_dir / "PERFORMANCE.md").write_text(performance_md(merged))
    return merged
