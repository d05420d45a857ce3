"""`python -m lab train …`: run a TrainRecipe headless (also under `accelerate launch`), or the quick path.

  python -m lab train RECIPE.yaml [--out DIR]          in this process (each DDP rank runs this)
  python -m lab train RECIPE.yaml --job                 as a background job of the lab (queued if one runs)
  python -m lab train --method sft --model REF --dataset PATH --adapter lora --max-steps N --out DIR
  python -m lab train --method grpo --model REF --dataset PATH --reward format:REGEX --reward exact@2 --max-steps N
  python -m lab train RECIPE.yaml --num-processes 2 --distributed ddp|fsdp   launches the ranks (accelerate launch)
  python -m lab train RECIPE.yaml --trl-command | --lr-find | --hf-job FLAVOR
Prints JSON (steps, first_loss, last_loss, tokens_per_s (real, non-pad tokens per second of the training
steps, of all ranks), engine, kernels, artifact; GRPO also first_reward, last_reward) on stdout; logs go to stderr. The
engine and fast path: --engine auto|trl|unsloth, --padding-free / --no-padding-free, --liger auto|on|off. This module holds the flags and the dispatch: the run is lab.train.worker's, its supervision
lab.jobs.local's, the Hugging Face Jobs submission lab.train.hf_jobs'.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import typing
from pathlib import Path

from lab.artifacts import MANIFEST, new_folder
from lab.auth import local_token
from lab.errors import LabError
from lab.hardware import get_hardware
from lab.jobs import store
from lab.jobs.context import JobCancelled, JobContext
from lab.jobs.local import LocalContext, in_watched_child, run_watched
from lab.jobs.manager import wait
from lab.jobs.worker_setup import passive_threads
from lab.train import distributed, submit
from lab.train.build import trl_command
from lab.train.hf_jobs import HfJobSpec, submit_hf_job
from lab.train.lr_finder import find_lr
from lab.train.recipe import AUTO_FIT, TrainRecipe, form_fields
from lab.train.worker import rank, train, world_size

CHILD_FLAG = "LAB_TRAIN_CHILD"  # set in the watched child (benchmarks set it to train in one process)
_ALIASES = {"learning_rate": ["--lr"], "rewards": ["--reward"]}  # short names the README and earlier versions use
_NOT_FLAGS = {"auto_fit"}  # follows from which flags are given


def _recipe_flags(parser) -> None:
    """One flag per field of the recipe's flat form (the common ones, each method's), typed and documented from
    the field itself (as TRL's parser does)."""
    group = parser.add_argument_group("recipe fields (override the recipe file; a batch or length given here is "
                                      "kept as is, the others may be lowered to fit memory)")
    for name, info in form_fields().items():
        if name in _NOT_FLAGS:
            continue
        flags = [f"--{name.replace('_', '-')}", *_ALIASES.get(name, [])]
        help_text = (info.description or "").replace("%", "%%")
        ann = info.annotation
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if ann is bool:
            group.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif typing.get_origin(ann) is list:  # repeatable, one item each: --reward format:REGEX --reward exact
            group.add_argument(*flags, dest=name, action="append", help=help_text)
        elif typing.get_origin(ann) is typing.Literal:
            group.add_argument(*flags, dest=name, choices=list(typing.get_args(ann)), help=help_text)
        else:
            kind = args[0] if args and typing.get_origin(ann) is not None else ann
            group.add_argument(*flags, dest=name, type=kind if kind in (int, float) else str, help=help_text)


def add_parsers(sub) -> None:
    t = sub.add_parser("train", help="Fine-tune a model (SFT, DPO, GRPO, KTO, a reward model, ...) from a recipe, "
                                     "or with the quick options.")
    t.add_argument("recipe", nargs="?", help="A TrainRecipe YAML file (the Train tab exports one).")
    t.add_argument("--out", help="Output folder (a new artifact folder by default; an unfinished one resumes).")
    t.add_argument("--job", action="store_true", help="Run as a background job of the lab and wait for it.")
    t.add_argument("--force", action="store_true", help="Run even when the memory estimate says it won't fit "
                   "(the recipe's run_anyway). The memory watchdog still stops it before the machine runs out.")
    t.add_argument("--recipe-env", help="Read the recipe YAML from this environment variable (Hugging Face Jobs).")
    t.add_argument("--trl-command", action="store_true", help="Print the equivalent `trl` command line and exit.")
    t.add_argument("--lr-find", action="store_true", help="Run the learning-rate range test instead of training.")
    t.add_argument("--hf-job", metavar="FLAVOR", help="Submit the recipe to Hugging Face Jobs on this flavor.")
    t.add_argument("--code-space", default="", help="With --hf-job: the Space holding the lab's code (your duplicate).")
    _recipe_flags(t)
    t.set_defaults(func=_train)


def recipe_from_args(args) -> TrainRecipe:
    """The recipe file (or the environment's YAML) with the flags given over it, in the flat form."""
    data: dict = {}
    if args.recipe_env:
        data = TrainRecipe.from_yaml(os.environ.get(args.recipe_env, "")).flat()
    elif args.recipe:
        data = TrainRecipe.load(args.recipe).flat()
    elif not (args.model or args.dataset):
        raise LabError("Nothing to train.", "Give a recipe YAML, or --model/--dataset (quick path).", "recipe")
    given = {name: getattr(args, name) for name in form_fields()
             if name not in _NOT_FLAGS and getattr(args, name, None) is not None}
    auto = [f for f in data.get("auto_fit", AUTO_FIT) if f not in given]
    data.update(given, auto_fit=auto)
    if args.force:
        data["run_anyway"] = True
    return TrainRecipe.parse(data)


def _print(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()


def _out_folder(args, recipe) -> Path:
    if args.out:
        out = Path(args.out).expanduser().resolve()
        if (out / MANIFEST).is_file():
            raise LabError(f"{out} already holds a finished artifact.", "Choose another --out folder.", "out")
        return out
    if world_size() > 1:
        raise LabError("Every process of a multi-process run must write to one folder.", "Pass --out DIR.", "out")
    return new_folder("model" if recipe.adapter == "full" else "adapter", recipe.output_name)


def _train(args) -> int:
    passive_threads()
    recipe = recipe_from_args(args)
    if args.trl_command:
        print(trl_command(recipe, args.out or "out"))
        return 0
    if args.hf_job:
        _print(submit_hf_job(recipe, args.hf_job, local_token(), HfJobSpec(code_space=args.code_space)))
        return 0
    if args.job:
        return _as_job(recipe)
    folder = _out_folder(args, recipe)
    if not in_watched_child(CHILD_FLAG):  # the same command again, in a child under the memory watchdog
        argv = [*args.argv, "--out", str(folder)]
        if recipe.num_processes > 1:  # the ranks, launched here: accelerate launch with a generated config
            hw = get_hardware()
            distributed.check(recipe, hw)
            return run_watched(argv, folder, CHILD_FLAG, command=distributed.prepare(recipe, hw, folder, argv),
                               env=distributed.rank_env(recipe, hw))
        return run_watched(argv, folder, CHILD_FLAG)
    if world_size() > 1:
        distributed.die_with_launcher()
    return _in_process(args, recipe, folder)


def _in_process(args, recipe: TrainRecipe, folder: Path) -> int:
    job_id = os.environ.get(distributed.JOB_ENV)  # a rank of a job's run: progress and ETA go to the job's record
    ctx = JobContext(store.get_job(job_id), recipe.model_dump()) if job_id else LocalContext(folder, recipe.model_dump())
    ctx.cooperative = True  # the training callback saves a checkpoint, then stops
    token = os.environ.get("HF_TOKEN") or None
    if args.lr_find:
        _print(find_lr(recipe, folder, ctx, token=token))
        return 0
    try:
        result = train(recipe, folder, ctx, token=token)
    except JobCancelled:
        if rank() == 0:  # once for the run, as its result is
            _print({"cancelled": True, "artifact": str(folder)})
        return 130
    if rank() == 0:
        if job_id:  # the job's worker reads it (lab.train.distributed.run_ranks)
            (folder / distributed.RESULT).write_text(json.dumps(result, indent=2, default=str))
        _print(result)
    return 0


def _as_job(recipe: TrainRecipe) -> int:
    job = submit(recipe, token=local_token() if (recipe.push_to or recipe.push_checkpoints_to) else None)
    print(f"job {job.id} {job.state}", file=sys.stderr)
    job = wait(job.id, timeout=7 * 24 * 3600)
    result_path = job.folder / "result.json"
    result = json.loads(result_path.read_text()) if result_path.is_file() else {}
    _print({"job": job.id, "state": job.state, "error": job.error, **result})
    return 0 if job.state == "succeeded" else 1
