"""`python -m lab train …`: run a TrainRecipe headless (also under `accelerate launch`), or the quick path.

  python -m lab train RECIPE.yaml [--out DIR]          in this process (each DDP rank runs this)
  python -m lab train RECIPE.yaml --job                 as a background job of the lab (queued if one runs)
  python -m lab train --method sft --model REF --dataset PATH --adapter lora --max-steps N --out DIR
  python -m lab train --method grpo --model REF --dataset PATH --reward format:REGEX --reward exact@2 --max-steps N
  python -m lab train RECIPE.yaml --trl-command | --lr-find | --hf-job FLAVOR
Prints JSON (steps, first_loss, last_loss, artifact; GRPO also first_reward, last_reward) on stdout; logs go
to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from lab.errors import LabError


class LocalContext:
    """What a job runner gets, for a run in this process: metrics.jsonl in the output folder, logs on stderr."""

    def __init__(self, folder: Path, recipe: dict | None = None):
        self.folder = Path(folder)
        self.recipe = recipe or {}
        self.cancelled = False
        self.cooperative = True
        self.metrics_path = self.folder / "metrics.jsonl"
        from lab.jobs.context import RecordedSteps

        self._recorded = RecordedSteps(self.metrics_path)
        self.resumed = (self.folder / "checkpoints").is_dir()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        from lab.jobs.watchdog import protect_app

        protect_app()

    def _on_signal(self, signum, frame):
        from lab.jobs.context import MemoryStopped
        from lab.jobs.watchdog import read_stop_note

        stopped = read_stop_note(self.folder, remove=True)
        if stopped:  # the memory watchdog: fail now, no checkpoint (saving would take more memory)
            raise MemoryStopped(stopped)
        self.cancelled = True  # the training callback saves a checkpoint, then stops

    def check_cancelled(self) -> None:
        if self.cancelled:
            from lab.jobs.context import JobCancelled

            raise JobCancelled("cancelled")

    def log(self, msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    def metric(self, **values) -> None:
        if not self._recorded.admit(values):
            return  # already recorded before a resume
        values.setdefault("time", round(time.time(), 3))
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(values) + "\n")

    def progress(self, fraction: float, message: str = "", force: bool = False) -> None:
        pass


_ALIASES = {"learning_rate": ["--lr"], "rewards": ["--reward"]}  # short names the README and earlier versions use
_NOT_FLAGS = {"auto_fit"}  # follows from which flags are given


def _recipe_flags(parser) -> None:
    """One flag per TrainRecipe field, typed and documented from the field itself (as TRL's parser does)."""
    import typing

    from lab.train.recipe import TrainRecipe

    group = parser.add_argument_group("recipe fields (override the recipe file; a batch or length given here is "
                                      "kept as is, the others may be lowered to fit memory)")
    for name, info in TrainRecipe.model_fields.items():
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
    t = sub.add_parser("train", help="Fine-tune a model (SFT, DPO, GRPO, KTO or a reward model) from a recipe, or with the quick options.")
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


def recipe_from_args(args):
    from lab.train.recipe import AUTO_FIT, TrainRecipe

    data: dict = {}
    if args.recipe_env:
        data = TrainRecipe.from_yaml(os.environ.get(args.recipe_env, "")).model_dump()
    elif args.recipe:
        path = Path(args.recipe)
        if not path.is_file():
            raise LabError(f"No recipe file at {args.recipe}.", "Give the path of a TrainRecipe YAML.", "recipe")
        data = TrainRecipe.from_yaml(path.read_text()).model_dump()
    elif not (args.model or args.dataset):
        raise LabError("Nothing to train.", "Give a recipe YAML, or --model/--dataset (quick path).", "recipe")
    given = {name: getattr(args, name) for name in TrainRecipe.model_fields
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
    from lab.artifacts import MANIFEST, new_folder

    if args.out:
        out = Path(args.out).expanduser().resolve()
        if (out / MANIFEST).is_file():
            raise LabError(f"{out} already holds a finished artifact.", "Choose another --out folder.", "out")
        return out
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise LabError("Every process of a multi-process run must write to one folder.", "Pass --out DIR.", "out")
    return new_folder("model" if recipe.adapter == "full" else "adapter", recipe.output_name)


def _train(args) -> int:
    from lab.train.worker import passive_threads

    passive_threads()
    recipe = recipe_from_args(args)
    if args.trl_command:
        from lab.train.build import trl_command

        print(trl_command(recipe, args.out or "out"))
        return 0
    if args.hf_job:
        from lab.auth import local_token
        from lab.train.hf_jobs import HfJobSpec, submit_hf_job

        _print(submit_hf_job(recipe, args.hf_job, local_token(), HfJobSpec(code_space=args.code_space)))
        return 0
    if args.job:
        return _as_job(recipe, args)
    folder = _out_folder(args, recipe)
    if not _in_child():
        return _watched_child(args, folder)
    ctx = LocalContext(folder, recipe.model_dump())
    token = os.environ.get("HF_TOKEN") or None
    if args.lr_find:
        from lab.train.lr_finder import find_lr

        _print(find_lr(recipe, folder, ctx, token=token))
        return 0
    from lab.jobs.context import JobCancelled
    from lab.train.worker import train

    try:
        result = train(recipe, folder, ctx, token=token)
    except JobCancelled:
        _print({"cancelled": True, "artifact": str(folder)})
        return 130
    if int(os.environ.get("RANK", "0")) == 0:
        _print(result)
    return 0


def _in_child() -> bool:
    """Train here when this is the watched child, or a rank of a multi-process launch (the launcher watches)."""
    return os.environ.get("LAB_TRAIN_CHILD") == "1" or int(os.environ.get("WORLD_SIZE", "1")) > 1


def _watched_child(args, folder: Path) -> int:
    """Run the same command in a child process under the memory watchdog: an out-of-memory run is stopped by the
    lab with its numbers, never by the kernel. Ctrl-C / SIGTERM reach the child, which saves a checkpoint."""
    import subprocess

    from lab.jobs.allocator import allocator_env
    from lab.jobs.watchdog import Watchdog, read_stop_note

    folder.mkdir(parents=True, exist_ok=True)
    env = allocator_env({**os.environ, "LAB_TRAIN_CHILD": "1"}, "glibc")  # switches itself when memory is tight
    argv = [sys.executable, "-m", "lab", *args.argv, "--out", str(folder)]
    proc = subprocess.Popen(argv, env=env, start_new_session=True)
    forward = lambda signum, frame: os.killpg(proc.pid, signal.SIGTERM)  # noqa: E731
    old = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    dog = Watchdog(proc.pid, folder)
    dog.start()
    try:
        code = proc.wait()
    finally:
        dog.close()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    dog.join(timeout=60)
    if dog.message:
        read_stop_note(folder, remove=True)
        if code < 0:  # killed before it could say why itself
            print(f"error: memory: {dog.message}", file=sys.stderr)
        return 2
    return code


def _as_job(recipe, args) -> int:
    from lab.auth import local_token
    from lab.jobs.manager import wait
    from lab.train import submit

    job = submit(recipe, token=local_token() if (recipe.push_to or recipe.push_checkpoints_to) else None)
    print(f"job {job.id} {job.state}", file=sys.stderr)
    job = wait(job.id, timeout=7 * 24 * 3600)
    result_path = job.folder / "result.json"
    result = json.loads(result_path.read_text()) if result_path.is_file() else {}
    _print({"job": job.id, "state": job.state, "error": job.error, **result})
    return 0 if job.state == "succeeded" else 1
