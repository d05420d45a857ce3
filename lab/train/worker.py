"""The training job: load -> preflight -> build -> train (resumable) -> save -> card -> push, as a straight line.

`run(ctx)` is the job runner (kinds train.<method>). `train(recipe, folder, ctx)` is the same run for the CLI,
which also works under `accelerate launch` (each rank trains; rank 0 writes metrics and the artifact). What
differs between methods (their rows, TRL config and trainer, metrics, how the result is saved, the card) is
the method's (lab.train.methods); nothing here asks which method runs.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from lab.errors import LabError
from lab.hardware import get_hardware
from lab.eval.flow import after_training, check_tasks
from lab.jobs import allocator
from lab.jobs.context import RUN_STATE, JobCancelled
from lab.jobs.worker_setup import passive_threads, quiet_libraries
from lab.train import build, distributed, finish, memory_guard, methods, preflight, timing, tracking, unsloth_engine
from lab.train.hub_sync import CheckpointPusher, pull_checkpoint
from lab.train.methods.base import TrainerParts
from lab.train.recipe import TrainRecipe
from lab.train.tokens import TokenCounter

GPU_LOG_EVERY_S = 2.0  # a GPU run logs a row at most this often (the Train tab polls every 2 s)


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def run(ctx) -> None:
    """Job runner: cancel is cooperative, so a cancelled run saves a checkpoint first."""
    passive_threads()
    ctx.cooperative = True
    recipe = TrainRecipe.parse(ctx.recipe)
    if recipe.num_processes > 1 and world_size() == 1:  # launch the ranks; this process waits for them
        result = distributed.run_ranks(recipe, get_hardware(), Path(ctx.folder), ctx)
    else:
        result = train(recipe, Path(ctx.folder), ctx, token=os.environ.get("HF_TOKEN") or None)
    (Path(ctx.folder) / "result.json").write_text(json.dumps(result, indent=2))
    ctx.progress(1.0, f"Done: {result['steps']} steps, loss {result.get('last_loss')}", force=True)


def train(recipe: TrainRecipe, folder: Path, ctx, token: str | None = None, callbacks: tuple = ()) -> dict:
    """The whole run. `callbacks`: extra TrainerCallbacks (tests and benchmarks watch the model with them)."""
    unsloth_engine.preload(recipe, token)  # Unsloth patches transformers, TRL and PEFT: it must load first
    from lab.train.callbacks import LabCallback  # heavy: transformers (a TrainerCallback)

    quiet_libraries()
    folder.mkdir(parents=True, exist_ok=True)
    main = rank() == 0
    log = ctx.log if main else (lambda m: None)
    method = methods.of(recipe)
    _stage(ctx, 1, "reading the rows")
    ds, kind = method.rows(recipe, token)
    _stage(ctx, 2, "measuring the rows and planning memory")
    pre = _preflight(recipe, ds, kind, folder, token, log)
    allocator.switch_to(pre.memory.get("allocator", "glibc"), log)
    recipe = pre.recipe
    if recipe.eval_tasks:  # a bad task file or name fails now, not after the training
        check_tasks(recipe.eval_task_list, token)
    ctx.check_cancelled()
    train_ds, eval_ds = split(ds, recipe, pre.eval_rows)
    load = unsloth_engine.load if pre.plan.engine == "unsloth" else build.load_weights
    _stage(ctx, 3, "loading the weights")
    model, tok = load(recipe, pre.plan, token, log)
    ctx.check_cancelled()
    cb = LabCallback(ctx, main=main, fp16=pre.plan.precision == "fp16", device=pre.plan.device,
                     log_every_s=GPU_LOG_EVERY_S if pre.plan.device == "cuda" else 0.0)
    cb.keys.update(method.metric_keys(recipe))
    ckpt_dir = folder / "checkpoints"
    if main:
        tracking.prepare(recipe, token, log)
    _stage(ctx, 4, f"tokenizing {pre.train_rows + pre.eval_rows} rows")
    trainer = make_trainer(recipe, pre, model, tok, (train_ds, eval_ds, kind), ckpt_dir, [cb, *callbacks],
                           ctx=ctx, main=main, token=token)
    pusher = _pusher(recipe, token, ctx, ckpt_dir) if main else None
    last = resume_point(recipe, ckpt_dir, token, log)
    device = pre.plan.device
    memory_guard.cap_gpu(device, build.local_index())
    try:
        with memory_guard.oom_guard(device, lambda: trainer.state.global_step, pre.memory.get("total_gb")):
            trainer.train(resume_from_checkpoint=last)
    finally:
        if main:
            _log_peak(memory_guard.record_peak(folder, device), log)
        if pusher:  # even after a crash, finish the upload in flight: it is what a later resume pulls
            pusher.wait()
    steps = trainer.state.global_step
    _write_rank(folder, trainer, steps)
    _stopped_early(cb, ckpt_dir, steps, log)
    if not main:
        return {"steps": steps, "rank": rank()}
    return _finish(trainer, tok, recipe, folder, steps, token, log, pre.plan)


STAGES = 5  # before the first step: the rows, the plan, the weights, tokenizing; the first step is the fifth


def _stage(ctx, n: int, what: str) -> None:
    """Start-up stage n of STAGES as the job's message (the progress bar stays under 1 % until the first step)."""
    ctx.progress(0.01 * n / STAGES, f"Starting ({n}/{STAGES}): {what}…", force=True)


def split(ds, recipe: TrainRecipe, n_eval: int):
    if not n_eval:
        return ds, None
    parts = ds.train_test_split(test_size=n_eval, seed=recipe.seed, shuffle=True)
    return parts["train"], parts["test"]


def total_steps(recipe: TrainRecipe, n_train: int) -> int:
    """Optimizer steps over n_train rows (GRPO's batch counts answers: its rows per batch are prompts)."""
    return timing.steps_for(n_train, methods.of(recipe).rows_per_batch(recipe), recipe.grad_accum, recipe.epochs,
                            recipe.max_steps, world_size())


def make_trainer(recipe: TrainRecipe, pre, model, tok, data: tuple, out: Path, callbacks: list, ctx=None,
                 main: bool = True, token: str | None = None):
    """The method's TRL trainer on (train rows, eval rows or None, their kind), checkpointing into `out`."""
    from transformers.trainer_callback import PrinterCallback  # heavy: transformers

    from lab.train.callbacks import log_trackio_at_steps  # heavy: transformers (TrainerCallbacks)

    train_ds, eval_ds, kind = data
    args = build.training_args(recipe, out, pre.plan, eval_ds is not None, total_steps(recipe, pre.train_rows))
    args.include_num_input_tokens_seen = "no"  # counted on the CPU instead (lab.train.tokens): no GPU sync
    args.logging_nan_inf_filter = False  # a NaN loss must be seen, not papered over
    # Unsloth's model has its adapter already (unsloth_engine.load)
    peft = build.lora_config(recipe) if recipe.adapter != "full" and pre.plan.engine != "unsloth" else None
    parts = TrainerParts(args, model, tok, train_ds, eval_ds, peft, list(callbacks), kind, ctx, main, token)
    trainer = methods.of(recipe).trainer(recipe, parts)
    counter = trainer.data_collator = TokenCounter(trainer.data_collator)
    for cb in callbacks:
        if hasattr(cb, "counter"):
            cb.counter = counter
    if pre.plan.precision == "fp16":
        build.fp32_trainable(trainer.model)
    trainer.remove_callback(PrinterCallback)  # our callback logs; the raw dicts would flood the job log
    log_trackio_at_steps(trainer)  # the dashboard's steps are the run's, also after a resume
    return trainer


def resume_point(recipe: TrainRecipe, ckpt_dir: Path, token: str | None, log) -> str | None:
    last = get_last(ckpt_dir, prune=rank() == 0)
    if last is None and recipe.push_checkpoints_to and rank() == 0:
        pulled = pull_checkpoint(recipe.push_checkpoints_to, ckpt_dir, token)
        last = str(pulled) if pulled else None
        if last:
            log(f"Pulled the last checkpoint from {recipe.push_checkpoints_to}.")
    return last


def lora_checksum(model) -> str:
    """A digest of the trainable weights (identical on every DDP rank after a synchronized run)."""
    h = hashlib.sha256()
    for name, p in sorted(model.named_parameters()):
        if p.requires_grad:
            h.update(name.encode())
            h.update(p.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()


def _preflight(recipe: TrainRecipe, ds, kind: str, folder: Path, token, log):
    pre = preflight.check(recipe, token=token, ds=(ds, kind))
    for change in pre.memory.get("changes", []):
        log(f"memory: {change}")
    for w in pre.warnings:
        log(f"warning: {w}")
    mem = pre.memory
    log(f"Memory: estimate {mem['total_gb']:g} GB of {mem['available_gb']:g} GB free ({mem['device']}); batch "
        f"{pre.recipe.batch_size} × grad_accum {pre.recipe.grad_accum}, max_seq_length {pre.recipe.max_seq_length}.")
    log(f"Plan: {pre.plan.summary()}; {pre.train_rows} train rows, {pre.eval_rows} eval rows.")
    for reason in pre.plan.reasons:
        log(reason)
    if rank() == 0:
        (folder / "preflight.json").write_text(json.dumps(pre.to_dict(), indent=2))
    return pre


def _log_peak(mem: dict, log) -> None:
    if mem.get("peak_gb") and mem.get("total_gb"):
        log(f"Memory: peak {mem['peak_gb']:.2f} GB measured, {mem['total_gb']:.2f} GB estimated "
            f"(measured/estimated {mem['peak_gb'] / mem['total_gb']:.2f}).")


def _stopped_early(cb, ckpt_dir: Path, steps: int, log) -> None:
    """A non-finite loss fails the run (the last good checkpoint stays); a cancel ends it as cancelled."""
    if cb.stopped_nonfinite is not None:
        good = get_last(ckpt_dir)
        raise LabError(f"The loss became non-finite at step {cb.stopped_nonfinite}; training stopped. "
                       f"Last good checkpoint: {good or 'none'}.",
                       "Lower the learning rate (the LR finder suggests one), then resume or start again.",
                       "learning_rate")
    if cb.cancelled:
        log(f"Cancelled at step {steps}; checkpoint saved. Resume continues from here.")
        raise JobCancelled("cancelled by the user")


def get_last(ckpt_dir: Path, prune: bool = False) -> str | None:
    """The newest complete checkpoint. transformers writes trainer_state.json last, so a checkpoint without it
    was cut short (a crash or SIGKILL mid-save); with prune=True such folders are removed."""
    found = sorted((int(m.group(1)), p) for p in (ckpt_dir.iterdir() if ckpt_dir.is_dir() else [])
                   if (m := re.fullmatch(r"checkpoint-(\d+)", p.name)) and p.is_dir())
    for _, path in reversed(found):
        if (path / "trainer_state.json").is_file():
            return str(path)
        if prune:
            shutil.rmtree(path, ignore_errors=True)
    return None


def _pusher(recipe: TrainRecipe, token, ctx, ckpt_dir: Path):
    if not recipe.push_checkpoints_to:
        return None
    pusher = CheckpointPusher(recipe.push_checkpoints_to, token, log=ctx.log)
    ctx.on_checkpoint = lambda step: pusher.push(ckpt_dir / f"checkpoint-{step}", step)
    return pusher


def _write_rank(folder: Path, trainer, steps: int) -> None:
    if world_size() > 1:
        (folder / ".ranks").mkdir(exist_ok=True)  # hidden: bookkeeping, never published
        info = {"rank": rank(), "world_size": world_size(), "steps": steps,
                "lora_checksum": lora_checksum(trainer.model)}
        (folder / ".ranks" / f"rank-{rank()}.json").write_text(json.dumps(info))


def _finish(trainer, tok, recipe: TrainRecipe, folder: Path, steps: int, token, log, plan) -> dict:
    summary = finish.save_result(trainer, tok, recipe, folder, steps, log, plan)
    result = {**summary, "artifact": str(folder)}
    del trainer
    if recipe.merge and recipe.adapter != "full" and not methods.of(recipe).saved_whole:
        result["merged"] = str(finish.merge(folder, recipe, token, log))
    shutil.rmtree(folder / "checkpoints", ignore_errors=True)  # the run is done; free the disk
    (folder / RUN_STATE).unlink(missing_ok=True)
    if recipe.eval_tasks:  # "evaluate base vs fine-tune on …": its scores go into the card before any push
        result["eval"] = after_training(recipe.eval_task_list, recipe.model, folder, token, log)
    if recipe.push_to:
        result["pushed"] = finish.push_result(folder, recipe.push_to, token, log)
        if result.get("merged"):
            result["pushed_merged"] = finish.push_result(Path(result["merged"]), recipe.push_to + "-merged", token,
                                                         log)
    tracking.record(recipe, folder, result, log)
    return result
