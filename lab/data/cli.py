"""`python -m lab data run RECIPE.yaml --out PATH` and `python -m lab data filter INPUT... --out PATH [...]`."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from lab.data import pipeline, scale
from lab.data.export import check_output, write_jsonl, write_output
from lab.data.load import SUFFIXES
from lab.data.recipe import FilterRecipe, make_step
from lab.repo_id import is_repo_id
from lab.ui_text import print_json


def add_parsers(sub) -> None:
    d = sub.add_parser("data", help="Load, dedup, filter and export datasets.")
    dsub = d.add_subparsers(dest="data_cmd", required=True)
    r = dsub.add_parser("run", help="Rerun a recipe the Data tab exported; keeps exactly the same rows.")
    r.add_argument("recipe", help="recipe.yaml")
    r.add_argument("--engine", choices=["memory", "datatrove"], default="memory",
                   help="memory: one process, every step. datatrove: exact dedup, fuzzy dedup and rule steps as "
                        "datatrove pipelines sharded over processes or Slurm (other steps are refused).")
    r.add_argument("--tasks", type=int, default=4, metavar="N", help="datatrove: shards of the data (default 4).")
    r.add_argument("--workers", type=int, default=-1, metavar="N",
                   help="datatrove: processes at once on this machine (default: one per CPU core).")
    r.add_argument("--slurm", metavar="PARTITION", default="",
                   help="datatrove: run each stage as a Slurm array job on PARTITION (needs --work on shared storage).")
    r.add_argument("--work", metavar="DIR", help="datatrove: folder for shards and intermediate files "
                   "(default: a new folder under LAB_HOME/cache/datatrove, removed after the run).")
    _common(r)
    r.set_defaults(func=_run)
    f = dsub.add_parser("filter", help="The quick path: combine INPUTs, dedup and filter; prints a JSON report.")
    f.add_argument("inputs", nargs="+", metavar="INPUT", help="Data files (.jsonl/.json/.csv/.parquet) or Hub ids.")
    f.add_argument("--exact", action="store_true", help="Exact dedup (case and whitespace folded).")
    f.add_argument("--fuzzy", type=float, metavar="THRESHOLD", help="MinHash dedup at this Jaccard threshold.")
    f.add_argument("--semantic", type=float, metavar="THRESHOLD", help="Embedding dedup at this cosine threshold.")
    f.add_argument("--refusals", action="store_true", help="Remove refusals and boilerplate (default phrases).")
    f.add_argument("--min-tokens", type=int, metavar="N")
    f.add_argument("--max-tokens", type=int, metavar="N")
    f.add_argument("--key", choices=["prompt", "answer", "sample"], help="What the dedup steps compare "
                   "(default: each step's own default).")
    f.add_argument("--recipe-out", metavar="PATH", help="Also save the recipe, for `data run` later.")
    _common(f)
    f.set_defaults(func=_filter)


def _common(p) -> None:
    p.add_argument("--out", required=True, metavar="PATH",
                   help="A .jsonl or .parquet file, or a folder (data.parquet + recipe + card).")
    p.add_argument("--force", action="store_true", help="Replace an existing --out.")
    p.add_argument("--removed-out", metavar="PATH", help="Also write the removed rows (row, step, reason, "
                   "dup_of) as JSON Lines.")


def _progress(fraction: float, message: str = "") -> None:
    print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr, flush=True)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _execute(recipe, args) -> int:
    token = os.environ.get("HF_TOKEN") or None
    check_output(args.out, args.force)  # before any work: an existing --out is never replaced silently
    if getattr(args, "engine", "memory") == "datatrove":
        result = _datatrove(recipe, args, token)
    else:
        result = pipeline.run(recipe, token=token, progress=_progress, log=_log)
    path = write_output(result, recipe, args.out, force=args.force)
    if args.removed_out:
        write_jsonl(result.removed, Path(args.removed_out).expanduser())
    report = {**result.report(), "engine": getattr(args, "engine", "memory"), "out": str(path)}
    print_json(report)
    return 0


def _datatrove(recipe, args, token):
    return scale.execute(recipe, tasks=args.tasks, workers=args.workers, slurm=args.slurm, work=args.work,
                         token=token, log=_log)


def _run(args) -> int:
    return _execute(FilterRecipe.load(args.recipe), args)


def _source(ref: str) -> dict:
    path = Path(ref).expanduser()
    if path.exists() or not is_repo_id(ref) or path.suffix.lower() in SUFFIXES:
        return {"path": str(path.resolve())}
    return {"hub": ref}


def build_recipe(args):
    key = {"key": args.key} if args.key else {}
    steps = []
    if args.exact:
        steps.append(make_step("exact_dedup", **key))
    if args.fuzzy is not None:
        steps.append(make_step("fuzzy_dedup", threshold=args.fuzzy, **key))
    if args.semantic is not None:
        steps.append(make_step("semantic_dedup", threshold=args.semantic, **key))
    if args.refusals:
        steps.append(make_step("refusals"))
    if args.min_tokens is not None or args.max_tokens is not None:
        steps.append(make_step("length", min_tokens=args.min_tokens, max_tokens=args.max_tokens))
    return FilterRecipe.parse({"sources": [_source(i) for i in args.inputs], "steps": steps})


def _filter(args) -> int:
    recipe = build_recipe(args)
    if args.recipe_out:
        Path(args.recipe_out).expanduser().write_text(recipe.to_yaml())
    return _execute(recipe, args)
