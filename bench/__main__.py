"""`python -m bench [--quick] [--only NAME...] [--reps N]`: run the suites, write RESULTS.md and results.json.

A suite is bench/suites/<name>.py exposing `pairs(quick: bool) -> list[bench.core.Pair]`.
"""
from __future__ import annotations

import argparse
import importlib.util
import shlex
import sys
import time
import traceback
from pathlib import Path

from bench.core import BENCH, Pair
from bench.machine import machine, machine_id
from bench.runner import Budget, run_pair, skipped

QUICK_BUDGET_S = 600  # the quick mode's promise: every suite within 10 minutes on the 2-core CPU box
REPORT_RESERVE_S = 10  # probing the machine and writing the report


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes and quick_reps; a 10-minute budget")
    p.add_argument("--only", nargs="+", metavar="NAME", default=[],
                   help="suites (foundation), pairs (foundation/app_start) or pair names to run")
    p.add_argument("--reps", type=int, help="repetitions per pair (overrides reps / quick_reps)")
    p.add_argument("--budget", type=float, metavar="S",
                   help=f"overall time budget in seconds (quick: {QUICK_BUDGET_S}; full: none)")
    p.add_argument("--list", action="store_true", help="list the suites and pairs, run nothing")
    p.add_argument("--suites-dir", type=Path, default=BENCH / "suites", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=BENCH, help="where RESULTS.md and results.json go")
    return p.parse_args(argv)


def discover(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.py")) if not p.stem.startswith("_")}


def load_pairs(name: str, path: Path, quick: bool) -> list[Pair]:
    spec = importlib.util.spec_from_file_location(f"bench_suite_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    pairs = module.pairs(quick)
    names = [p.name for p in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"suite {name}: pair names repeat: {names}")
    return pairs


def selected(suite: str, pair: Pair, only: list[str]) -> bool:
    return not only or any(o in (suite, pair.name, f"{suite}/{pair.name}") for o in only)


def wanted(suite: str, only: list[str], suites: dict) -> bool:
    """Whether a suite must be loaded: named, or possibly holding a bare pair name from --only."""
    return not only or any(o == suite or o.startswith(suite + "/") or ("/" not in o and o not in suites)
                           for o in only)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_suite(name: str, path: Path, args, cuda: bool, budget: Budget, notes: list[str]) -> dict | None:
    started = time.monotonic()
    entry = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "mode": "quick" if args.quick else "full",
             "status": "ran", "error": "", "pairs": []}
    try:
        defined = load_pairs(name, path, args.quick)
        pairs = [p for p in defined if selected(name, p, args.only)]
        entry["defined"] = [p.name for p in defined]  # lets the report keep earlier results of the others
    except Exception:
        if args.only and name not in args.only:
            return None  # a broken suite nobody asked for
        log(f"[{name}] could not load its pairs")
        return {**entry, "status": "error", "error": traceback.format_exc(limit=4)}
    if not pairs:
        return None
    for pair in pairs:
        reps = args.reps or (pair.quick_reps if args.quick else pair.reps)
        if pair.gpu and not cuda:
            entry["pairs"].append(skipped(pair, "needs CUDA; this machine has none"))
        elif budget.left() <= 0:
            entry["pairs"].append(skipped(pair, "the overall time budget ran out before it started"))
            notes.append(f"Skipped for lack of time: {name}/{pair.name}.")
        else:
            log(f"[{name}/{pair.name}] {reps} reps")
            result = run_pair(pair, reps, budget, log)
            log(f"[{name}/{pair.name}] {result['status']} in {result['duration_s']:.0f} s")
            if result["reps_done"] < reps and result["status"] != "ERROR":
                notes.append(f"{name}/{pair.name}: {result['reps_done']} of {reps} reps (the time budget).")
            entry["pairs"].append(result)
    entry["duration_s"] = round(time.monotonic() - started, 1)
    return entry


def list_suites(args) -> int:
    for name, path in discover(args.suites_dir).items():
        try:
            pairs = load_pairs(name, path, args.quick)
        except Exception as exc:
            print(f"{name}: cannot load ({type(exc).__name__}: {exc})")
            continue
        for p in pairs:
            reps = args.reps or (p.quick_reps if args.quick else p.reps)
            print(f"{name}/{p.name}: {reps} reps, baseline {'yes' if p.baseline else 'no'}, targets {p.targets}"
                  + (", GPU" if p.gpu else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.list:
        return list_suites(args)
    started = time.monotonic()
    budget_s = args.budget if args.budget is not None else (QUICK_BUDGET_S if args.quick else None)
    budget = Budget(budget_s - REPORT_RESERVE_S if budget_s else None)
    facts = machine()
    suites, notes = discover(args.suites_dir), []
    command = "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:])
    results = {"quick": args.quick, "command": command,
               "machine": facts, "budget_s": budget_s, "notes": notes, "suites": {}}
    for name, path in suites.items():
        if not wanted(name, args.only, suites):
            continue
        entry = run_suite(name, path, args, facts["cuda"], budget, notes)
        if entry is not None:
            results["suites"][name] = {**entry, "machine_id": machine_id(facts)}
    results["duration_s"] = round(time.monotonic() - started, 1)
    if not results["suites"]:
        log(f"nothing to run: no suite or pair matches {args.only or 'anything'} (see --list)")
        return 2
    from bench.report import write

    write(args.out, results, set(discover(args.suites_dir)))  # suites added while a long run went on count too
    log(f"wrote {args.out / 'RESULTS.md'} and results.json in {results['duration_s']:.0f} s")
    ran = results["suites"].items()
    bad = [f"{s}/{p['name']}" for s, e in ran for p in e.get("pairs", [])
           if p["status"] in ("FAIL", "ERROR") and not p.get("kept")] + [s for s, e in ran if e["status"] == "error"]
    if bad:
        log("not passing: " + ", ".join(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
