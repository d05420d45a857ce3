"""`python -m lab eval --model REF [--model REF …] --task FILE_OR_TASK_NAME [--task …] [--limit N] [--out DIR]`

Prints {"models": [{"model": REF, "scores": {TASK: {METRIC: value, METRIC_stderr: value}}}], "out": DIR}.
The evaluation runs in this process (as `python -m lab merge` does); --job runs it as a background job instead.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from lab import eval as lab_eval
from lab.auth import local_token
from lab.errors import LabError
from lab.eval import contamination, plan, report
from lab.eval.flow import evaluate_and_record, new_out
from lab.eval.plan import estimate_recipe
from lab.eval.recipe import EvalRecipe
from lab.jobs import manager
from lab.jobs.worker_setup import passive_threads


def add_parsers(sub) -> None:
    p = sub.add_parser("eval", help="Evaluate 1-6 models on custom task files, lm-eval tasks or suites; "
                       "prints JSON scores.")
    p.add_argument("--model", action="append", default=[], metavar="REF",
                   help="A Hub id, the bundled model, a local folder or BASE+ADAPTER (repeat, up to 6; the first "
                        "is the base).")
    p.add_argument("--task", action="append", default=[], metavar="FILE_OR_TASK_NAME",
                   help="A .jsonl/.csv/.parquet file, a Hub dataset (org/name[:split]), an lm-eval task, or a suite "
                        "(nous, leaderboard_v2). Repeat for more.")
    p.add_argument("--limit", type=int, default=None, help="Only the first N items of each task.")
    p.add_argument("--num-fewshot", type=int, default=None, help="Few-shot examples (default: each task's own).")
    p.add_argument("--out", default="", help="Results folder (must not exist or be empty). Default: LAB_HOME/evals.")
    p.add_argument("--recipe", default="", help="An eval recipe YAML (what the Evaluate tab exports).")
    p.add_argument("--kind", default="auto", choices=["auto", "multiple_choice", "exact_match", "judge"],
                   help="The kind of the task files (default: detected from their columns).")
    p.add_argument("--regex", default="", help="Exact match: a regex extracting the answer from the reply.")
    p.add_argument("--extract", default="whole", choices=["whole", "last_number", "first_line", "regex"],
                   help="Exact match: what of the reply is compared (default: the whole reply; a --regex alone "
                   "extracts with it).")
    p.add_argument("--chat-template", default="auto", choices=["auto", "on", "off"])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--no-cache", action="store_true", help="Recompute even what the cache holds.")
    p.add_argument("--judge-endpoint", default="", help="Judged tasks: an OpenAI-compatible base URL "
                   "(default: a local judge model).")
    p.add_argument("--judge-model", default="", help="Judged tasks: the judge model (local ref or endpoint model).")
    p.add_argument("--judge-mode", default="single", choices=["single", "pairwise"])
    p.add_argument("--judge-reference", default="", help="Pairwise: the reference model (default: the first).")
    p.add_argument("--estimate", action="store_true", help="Only print the size and time estimate.")
    p.add_argument("--job", action="store_true", help="Run as a background job and wait for it (as the UI does).")
    p.set_defaults(func=_eval)


def _recipe(args):
    if args.recipe:
        return EvalRecipe.load(args.recipe)

    tasks, custom = [], []
    for entry in args.task:  # task files get --kind and --regex; names stay names
        kind = plan.classify(entry)
        if isinstance(kind, str):
            tasks.append(kind)
        else:
            custom.append({**kind.model_dump(exclude_defaults=True), "kind": args.kind,
                           "regex": args.regex, "extract": args.extract})
    data = {"models": args.model or None, "tasks": tasks, "custom": custom, "limit": args.limit,
            "num_fewshot": args.num_fewshot,
            "chat_template": args.chat_template, "batch_size": args.batch_size, "use_cache": not args.no_cache}
    judge = {"mode": args.judge_mode, "reference_model": args.judge_reference}
    if args.judge_endpoint:
        judge |= {"backend": "openai", "endpoint": args.judge_endpoint}
    if args.judge_model:
        judge["model"] = args.judge_model
    return EvalRecipe.parse({k: v for k, v in {**data, "judge": judge}.items() if v is not None})


def _print(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _out(args) -> Path:
    if not args.out:
        return new_out()
    out = Path(args.out).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LabError(f"{out} already exists.", "Choose a new results folder; the lab never overwrites one.", "out")
    return out


def contract(result: dict) -> dict:
    """The CLI's JSON: per model its scores (and why it failed, or how many items went unscored)."""
    models = []
    for m in result["models"]:
        row = {"model": m["model"], "scores": m["scores"]}
        row |= {"error": m["error"]} if m.get("error") else {}
        row |= {"unscored": m["unscored"]} if m.get("unscored") else {}
        models.append(row)
    return {"models": models, "out": result["out"]}


def _eval(args) -> int:
    recipe, token = _recipe(args), local_token()
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731  stdout carries the JSON only
    if args.estimate:
        found = contamination.at_check(plan.make(recipe, token), token)  # told before the run, as the UI's Check
        _print({**estimate_recipe(recipe, token), "contamination": found})
        return 0
    out = _out(args)
    if args.job:
        return _as_job(recipe, out, token)

    passive_threads()
    result = evaluate_and_record(recipe, out, token, log)
    _print(contract(result))
    return 1 if any(m.get("error") for m in result["models"]) else 0


def _as_job(recipe, out: Path, token) -> int:
    job = lab_eval.submit(recipe, token=token, out=out)
    print(f"Job {job.id} started; follow it with `python -m lab jobs show {job.id}`.", file=sys.stderr)
    job = manager.wait(job.id, timeout=7 * 24 * 3600)
    if job.state != "succeeded":
        print(f"error: eval job {job.id} {job.state}: {job.error}", file=sys.stderr)
        return 2
    result = report.load(job.folder)
    _print(contract(result))
    return 1 if any(m.get("error") for m in result["models"]) else 0
