"""Defaults that fit: lower what the user left to the lab until the run's estimate is within budget.

Order: the batch first (gradient accumulation rises so the effective batch stays), then gradient checkpointing
when it is on "auto" (costs time, not data), then the sequence length, not below the dataset's 95th-percentile
row when that can be avoided. A value the user set is never changed: when it is what does not fit, the run is
refused before anything loads, with the numbers and what would fit (unless the user asked to run anyway).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from lab.errors import LabError

SHARE = 0.75  # a run's estimate must stay within this share of the free memory
MIN_SEQ = 64


@dataclass
class Fit:
    recipe: object  # the TrainRecipe to run
    estimate_gb: float
    budget_gb: float
    changes: list[str] = field(default_factory=list)
    fits: bool = True


def _halve_batch(r):
    batch = max(1, r.batch_size // 2)
    accum = math.ceil(r.batch_size * r.grad_accum / batch)
    return r.model_copy(update={"batch_size": batch, "grad_accum": accum})


def _seq_search(r, estimate: Callable, budget: float, floor: int):
    """The longest max_seq_length in [floor, current] (multiples of 32) that fits, or None."""
    lo, hi = max(MIN_SEQ, floor), r.max_seq_length
    if lo > hi or estimate(r.model_copy(update={"max_seq_length": lo})) > budget:
        return None
    best = lo
    while hi - lo > 32:
        mid = (lo + hi) // 2 // 32 * 32
        if mid <= lo:
            break
        if estimate(r.model_copy(update={"max_seq_length": mid})) <= budget:
            lo = best = mid
        else:
            hi = mid
    if estimate(r.model_copy(update={"max_seq_length": hi})) <= budget:
        best = hi
    return r.model_copy(update={"max_seq_length": best})


def fit(recipe, estimate: Callable, budget_gb: float, p95: int, auto: set[str] | None = None) -> Fit:
    """Lower the fields in `auto` (default: the recipe's auto_fit) until estimate(recipe) <= budget_gb."""
    auto = set(recipe.auto_fit) if auto is None else auto
    r, changes = recipe, []
    est = estimate(r)
    if est <= budget_gb:
        return Fit(r, est, budget_gb)
    start = est
    if "batch_size" in auto:
        while r.batch_size > 1 and est > budget_gb:
            r = _halve_batch(r)
            est = estimate(r)
        if r.batch_size != recipe.batch_size:
            changes.append(f"batch_size {recipe.batch_size} → {r.batch_size} and grad_accum {recipe.grad_accum} → "
                           f"{r.grad_accum} (effective batch {recipe.effective_batch} → {r.effective_batch})")
    if est > budget_gb and r.gradient_checkpointing == "auto":
        on = r.model_copy(update={"gradient_checkpointing": "on"})
        if estimate(on) < est:
            r, est = on, estimate(on)
            changes.append("gradient checkpointing on (about 20–30 % slower steps, far fewer activations kept)")
    if est > budget_gb and "max_seq_length" in auto:
        shorter = _seq_search(r, estimate, budget_gb, p95) or _seq_search(r, estimate, budget_gb, MIN_SEQ)
        if shorter is not None:
            below = shorter.max_seq_length < p95
            changes.append(f"max_seq_length {r.max_seq_length} → {shorter.max_seq_length}"
                           + (f" (below the data's 95th percentile, {p95} tokens: longer rows are cut)" if below
                              else f" (the data's 95th percentile is {p95} tokens)"))
            r, est = shorter, estimate(shorter)
    if changes:
        changes.insert(0, f"The starting settings need an estimated {start:.1f} GB, over the budget of "
                          f"{budget_gb:.1f} GB ({int(SHARE * 100)} % of what is free), so the lab changed:")
    return Fit(r, est, budget_gb, changes, fits=est <= budget_gb)


def refusal(recipe, result: Fit, free_gb: float, estimate: Callable, p95: int) -> LabError:
    """The error for a run that does not fit: the numbers, what the user pinned, and what would fit."""
    pinned = [f for f in ("batch_size", "max_seq_length") if f not in recipe.auto_fit]
    would = fit(recipe, estimate, result.budget_gb, p95, auto={"batch_size", "max_seq_length"})
    what = (f"batch {recipe.batch_size} × max_seq_length {recipe.max_seq_length} "
            f"({', '.join(pinned) + ' set by you' if pinned else 'lowered as far as the lab may'})")
    problem = (f"This run needs an estimated {result.estimate_gb:.1f} GB with {what}; {free_gb:.1f} GB is free "
               f"here and the lab keeps a run under {result.budget_gb:.1f} GB ({int(SHARE * 100)} %).")
    if would.fits:
        r = would.recipe
        fix = (f"Batch {r.batch_size} (grad_accum {r.grad_accum}) × max_seq_length {r.max_seq_length}"
               f"{', gradient checkpointing on' if r.gradient_checkpointing == 'on' else ''} would fit "
               f"({would.estimate_gb:.1f} GB): lower them, leave them to the lab, or run anyway (--force).")
    else:
        fix = ("Even batch 1 with short sequences does not fit: use QLoRA or LoRA instead of full fine-tuning, or "
               "a smaller model; or run anyway (--force) if you know better.")
    field_name = pinned[0] if pinned else "batch_size"
    return LabError(problem, fix, field_name)
