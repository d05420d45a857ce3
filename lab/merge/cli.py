"""`python -m lab merge CONFIG.yaml --out DIR`: run a plain mergekit config (merge or MoE) and print JSON."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import lab.merge
from lab import jobs
from lab.auth import local_token
from lab.errors import LabError
from lab.jobs import manager
from lab.merge import evolve_cli, worker
from lab.merge.preflight import preflight
from lab.merge.recipe import load_recipe
from lab.merge.worker import MergeOptions, check_out
from lab.settings import get_settings
from lab.ui_text import print_json


def add_parsers(sub) -> None:
    p = sub.add_parser("merge", help="Merge models from a mergekit YAML (merge or MoE config); prints JSON.")
    p.add_argument("config", help="A mergekit YAML: merge_method + models/slices, or a MoE config with experts. "
                   "Or `evolve CONFIG.yaml`: search merge parameters with CMA-ES against a fitness task.")
    p.add_argument("evolve_config", nargs="?", default="", help=argparse.SUPPRESS)
    p.add_argument("--out", default="", help="Output folder (must not exist). Default: a new folder in LAB_HOME.")
    p.add_argument("--preflight", action="store_true", help="Only check the config (config files, no weights).")
    p.add_argument("--job", action="store_true", help="Run as a background job and wait for it (as the UI does).")
    p.add_argument("--shard-size", type=int, default=None,
                   help="mergekit out_shard_size: size of each saved shard (default 5B).")
    p.add_argument("--seed", type=int, default=None, help="Seed for DARE/DELLA's random pruning.")
    p.add_argument("--eval-task", action="append", default=[], metavar="TASK",
                   help="Then evaluate the merge against its sources on TASK (file, lm-eval task or suite).")
    p.set_defaults(func=_merge)



def _options(args) -> dict:
    out = {}
    if args.shard_size:
        out["out_shard_size"] = args.shard_size
    if args.seed is not None:
        out["random_seed"] = args.seed
    if args.eval_task:
        out["eval_tasks"] = args.eval_task
    return out


def _read(path: str) -> str:
    p = Path(path).expanduser()
    if not p.is_file():
        raise LabError(f"{path} is not a file.", "Give the path of a mergekit YAML config.", "config")
    return p.read_text()


def _merge(args) -> int:
    if args.config == "evolve":
        return evolve_cli.run(args.evolve_config, args.out, args.job)
    text = _read(args.config)
    token = local_token()
    if args.preflight:
        report = preflight(load_recipe(text), token=token)
        print_json(report.to_dict())
        return 0 if report.ok else 2
    out = Path(args.out).expanduser() if args.out else get_settings().artifacts / time.strftime("merge-%Y%m%d-%H%M%S")
    if args.job:
        return _as_job(text, out, _options(args), token)

    result = worker.merge(text, out, MergeOptions(**_options(args)), token=token,
                   log=lambda m: print(m, file=sys.stderr))
    print_json(result)
    return 0


def _as_job(text: str, out: Path, options: dict, token) -> int:
    recipe = load_recipe(text)
    check_out(out.resolve())
    job = jobs.submit("merge", {"config": recipe.to_dict(), "source": text, "options": options},
                 title=f"Merge ({recipe.merge_method})", token=token, artifact_dir=out.resolve())
    print(f"Job {job.id} started; follow it with `python -m lab jobs show {job.id}`.", file=sys.stderr)
    job = manager.wait(job.id, timeout=24 * 3600)
    if job.state != "succeeded":
        print(f"error: merge job {job.id} {job.state}: {job.error}", file=sys.stderr)
        return 2
    print_json(json.loads((job.folder / "merge_result.json").read_text()))
    return 0
