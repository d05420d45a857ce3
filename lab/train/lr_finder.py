"""Learning-rate range test: a short run whose rate rises exponentially; loss against rate says how high to go.

It runs the real trainer (same model, data, loss, precision) with a LambdaLR schedule in place of the recipe's,
stops once the loss diverges, and suggests the rate where the smoothed loss bottomed out, backed off 4×:
the sweep reaches that rate only for a step, and a whole run at it sits on the edge of divergence.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from pydantic import BaseModel, Field

from lab import jobs
from lab.jobs.worker_setup import passive_threads, quiet_libraries
from lab.plots import curve_axes, save_curve
from lab.train import build, memory_guard, methods, preflight, worker
from lab.train.recipe import TrainRecipe

BACK_OFF = 4.0


class LrSweep(BaseModel):
    steps: int = Field(40, ge=10, le=100, description="Sweep length: 30–50 steps give a readable curve.")
    min_lr: float = Field(1e-7, gt=0, description="Rate at the first step.")
    max_lr: float = Field(1e-1, gt=0, le=10, description="Rate at the last step (the sweep stops earlier if "
                          "the loss diverges).")


def rates(sweep: LrSweep) -> list[float]:
    ratio = sweep.max_lr / sweep.min_lr
    return [sweep.min_lr * ratio ** (i / (sweep.steps - 1)) for i in range(sweep.steps)]


def smooth(values: list[float], beta: float = 0.6) -> list[float]:
    """Bias-corrected exponential moving average (non-finite values stay non-finite)."""
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        if not math.isfinite(v):
            out.append(float("inf"))
            continue
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta ** i))
    return out


def suggest(lrs: list[float], losses: list[float], diverge: float = 2.0) -> dict:
    """Where the smoothed loss bottoms out, where it diverges, and the suggested rate."""
    sm = smooth(losses)
    finite = [i for i, v in enumerate(sm) if math.isfinite(v)]
    if len(finite) < 3:
        return {"suggestion": None, "lr_at_min": None, "diverged_at": None, "smoothed": sm,
                "note": "Too few finite losses: lower max_lr or check the data."}
    i_min = min(finite, key=lambda i: sm[i])
    floor = sm[i_min]
    i_div = next((i for i in range(i_min + 1, len(sm)) if not math.isfinite(sm[i]) or sm[i] > diverge * floor +
                  0.1 * abs(sm[0] - floor)), None)
    note = ("" if i_div is not None else "The loss never diverged: the usable maximum may be higher than the sweep "
            "reached.")
    return {"suggestion": float(f"{lrs[i_min] / BACK_OFF:.3g}"), "lr_at_min": lrs[i_min],
            "diverged_at": lrs[i_div] if i_div is not None else None, "smoothed": sm, "note": note}


def _stop_on_divergence():
    """The callback, built on first use: importing transformers' trainer costs seconds at app start."""
    from transformers import TrainerCallback  # heavy: transformers

    class StopOnDivergence(TrainerCallback):
        def __init__(self):
            self.losses: list[float] = []
            self.lrs: list[float] = []

        def on_log(self, args, state, control, logs=None, **kw):
            if not logs or "loss" not in logs:
                return control
            loss = float(logs["loss"])
            self.losses.append(loss)
            self.lrs.append(float(logs.get("learning_rate", 0.0)))
            finite = [x for x in self.losses if math.isfinite(x)]
            if not math.isfinite(loss) or (len(finite) > 5 and loss > 4 * min(finite)):
                control.should_training_stop = True
            return control

    return StopOnDivergence()


def plot(result: dict, out: Path) -> Path:
    return save_curve(*figure(result), out, "learning rate", "loss")


def figure(result: dict):
    """(figure, axes) of the sweep: each loss, the smoothed curve and the suggestion, each a named line."""
    fig, ax = curve_axes()
    pts = [(lr, v) for lr, v in zip(result["lrs"], result["smoothed"]) if math.isfinite(v)]
    ax.plot([lr for lr, _ in zip(result["lrs"], result["losses"])], result["losses"], ".", alpha=0.4, label="loss")
    if pts:
        ax.plot(*zip(*pts), lw=1.6, label="smoothed")
    if result.get("suggestion"):
        ax.axvline(result["suggestion"], color="green", ls="--", label=f"suggested {result['suggestion']:.2g}")
    ax.set_xscale("log")
    return fig, ax


def find_lr(recipe: TrainRecipe, folder: Path, ctx, sweep: LrSweep | None = None, token: str | None = None) -> dict:
    # heavy: torch, and transformers (the callback is a TrainerCallback)
    import torch  # heavy: torch

    from lab.train.callbacks import LabCallback  # heavy: transformers (through lab.train.callbacks)

    method = methods.of(recipe)
    method.check_lr_sweep(recipe)
    sweep = sweep or LrSweep()
    quiet_libraries()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    run = recipe.model_copy(update={"max_steps": sweep.steps, "learning_rate": sweep.max_lr, "warmup_ratio": 0.0,
                                    "scheduler": "constant", "eval_split": 0.0, "save_steps": 10 ** 6,
                                    "grad_accum": 1, "merge": False, "push_checkpoints_to": "", "push_to": ""})
    ds, kind = method.rows(run, token)
    pre = preflight.check(run, token=token, ds=(ds, kind))
    run = pre.recipe
    model, tok = build.load_weights(run, pre.plan, token, ctx.log)
    stop = _stop_on_divergence()
    trainer = worker.make_trainer(run, pre, model, tok, (ds, None, kind), folder / "checkpoints",
                                  [LabCallback(ctx), stop], ctx=ctx, token=token)
    trainer.args.save_strategy = "no"
    trainer.create_optimizer()
    lo = sweep.min_lr / sweep.max_lr
    trainer.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
        trainer.optimizer, lambda i: lo ** (1 - min(i, sweep.steps - 1) / (sweep.steps - 1)))
    ctx.log(f"LR sweep: {sweep.steps} steps from {sweep.min_lr:g} to {sweep.max_lr:g}.")
    with memory_guard.oom_guard(pre.plan.device, lambda: trainer.state.global_step, pre.memory.get("total_gb")):
        trainer.train()
    result = {"lrs": stop.lrs, "losses": stop.losses, **suggest(stop.lrs, stop.losses)}
    (folder / "lr_find.json").write_text(json.dumps(result, indent=2))
    plot(result, folder / "lr_find.png")
    ctx.log(f"Suggested learning rate: {result['suggestion']} (loss bottomed out at {result['lr_at_min']}).")
    return {k: v for k, v in result.items() if k not in ("smoothed",)}


def run(ctx) -> None:
    """Job runner for train.lr_find: recipe = {"recipe": TrainRecipe fields, "sweep": LrSweep fields}."""
    passive_threads()
    ctx.cooperative = False
    recipe = TrainRecipe.parse(ctx.recipe.get("recipe", {}))
    sweep = LrSweep.model_validate(ctx.recipe.get("sweep", {}))
    find_lr(recipe, Path(ctx.folder), ctx, sweep, token=os.environ.get("HF_TOKEN") or None)
    ctx.progress(1.0, "Sweep done", force=True)


def submit(recipe: TrainRecipe, sweep: LrSweep | None = None, token: str | None = None, owner: str | None = None):
    jobs.check_allowed("train.lr_find")
    methods.of(recipe).check_lr_sweep(recipe)
    preflight.check(recipe, token=token)
    body = {"recipe": recipe.model_dump(mode="json"), "sweep": (sweep or LrSweep()).model_dump()}
    return jobs.submit("train.lr_find", body, title=f"LR finder · {recipe.model.split('/')[-1]}", token=token,
                       owner=owner)
