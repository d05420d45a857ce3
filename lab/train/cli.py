"""`python -m lab train …`: run a TrainRecipe headless (also under `accelerate launch`), or the quick path.

  python -m lab train RECIPE.yaml [--out DIR]          in this process (each DDP rank runs this)
  python -m lab train RECIPE.yaml --job                 as a background job of the lab (queued if one runs)
  python -m lab train --method sft --model REF --dataset PATH --adapter lora --max-steps N --out DIR
  python -m lab train RECIPE.yaml --trl-command | --lr-find | --hf-job FLAVOR
Prints JSON (steps, first_loss, last_loss, artifact) on stdout; logs go to stderr.
"""
from __future__ import annotations

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
        self._last_step = None
        if self.metrics_path.is_file():
            from lab.jobs.context import read_metrics

            steps = [r["step"] for r in read_metrics(self.metrics_path) if "step" in r]
            self._last_step = max(steps) if steps else None
        self.resumed = (self.folder / "checkpoints").is_dir()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame):
        self.cancelled = True  # the training callback saves a checkpoint, then stops

    def check_cancelled(self) -> None:
        if self.cancelled:
            from lab.jobs.context import JobCancelled

            raise JobCancelled("cancelled")

    def log(self, msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    def metric(self, **values) -> None:
        step = values.get("step")
        if step is not None and self._last_step is not None and step <= self._last_step:
            return  # already recorded before a resume
        self._last_step = step if step is not None else self._last_step
        values.setdefault("time", round(time.time(), 3))
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(values) + "\n")

    def progress(self, fraction: float, message: str = "", force: bool = False) -> None:
        pass


def add_parsers(sub) -> None:
    t = sub.add_parser("train", help="Fine-tune a model (SFT or DPO) from a recipe, or with the quick options.")
    t.add_argument("recipe", nargs="?", help="A TrainRecipe YAML file (the Train tab exports one).")
    t.add_argument("--out", help="Output folder (a new artifact folder by default; an unfinished one resumes).")
    t.add_argument("--job", action="store_true", help="Run as a background job of the lab and wait for it.")
    t.add_argument("--method", choices=["sft", "dpo"])
    t.add_argument("--model", help="Base model (Hub id or folder).")
    t.add_argument("--dataset", help="Data-tab artifact folder, data file or Hub dataset id.")
    t.add_argument("--adapter", choices=["lora", "qlora", "full"])
    t.add_argument("--max-steps", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float, help="Learning rate.")
    t.add_argument("--max-seq-length", type=int)
    t.add_argument("--max-rows", type=int)
    t.add_argument("--merge", action="store_true", help="Also save a merged full model.")
    t.add_argument("--recipe-env", help="Read the recipe YAML from this environment variable (Hugging Face Jobs).")
    t.add_argument("--trl-command", action="store_true", help="Print the equivalent `trl` command line and exit.")
    t.add_argument("--lr-find", action="store_true", help="Run the learning-rate range test instead of training.")
    t.add_argument("--hf-job", metavar="FLAVOR", help="Submit the recipe to Hugging Face Jobs on this flavor.")
    t.add_argument("--code-space", default="", help="With --hf-job: the Space holding the lab's code (your duplicate).")
    t.set_defaults(func=_train)


_QUICK = {"method": "method", "model": "model", "dataset": "dataset", "adapter": "adapter", "max_steps": "max_steps",
          "batch_size": "batch_size", "lr": "learning_rate", "max_seq_length": "max_seq_length",
          "max_rows": "max_rows"}


def recipe_from_args(args):
    from lab.train.recipe import TrainRecipe

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
    for arg, field in _QUICK.items():
        value = getattr(args, arg)
        if value is not None:
            data[field] = value
    if args.merge:
        data["merge"] = True
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
