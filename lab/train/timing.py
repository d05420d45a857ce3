"""How long a run takes, from measured times: the live ETA and the Check's wall-time estimate share these sums.

A step's time is measured from the end of the one before (or the end of an evaluation or checkpoint save, which
are timed apart). The first step of a run is a warm-up (kernels load, caches fill, the first batches are
collated) and is slower than the rest, so the typical step is the median of the recent steps after it; the
median also ignores a step that a save in the background or another process slowed.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import median

RECENT = 20  # steps the median looks back over: recent enough to follow a run that speeds up or slows down


def typical_step_s(step_times: list[float], recent: int = RECENT) -> float | None:
    """The median of the recent step times after the first (warm-up) step; the first alone when it is all."""
    if not step_times:
        return None
    settled = step_times[1:] or step_times[:1]
    return median(settled[-recent:])


def every(interval: int | None, after: int, until: int) -> int:
    """How many multiples of `interval` lie in (after, until]: evaluations or saves still to come."""
    if not interval or interval <= 0 or until <= after:
        return 0
    return until // interval - after // interval


def remaining_s(step_times: list[float], step: int, max_steps: int, eval_every: int | None = None,
                eval_times: list[float] = (), save_every: int | None = None,
                save_times: list[float] = ()) -> float | None:
    """Seconds left in a run at `step` of `max_steps`: the typical step times the steps left, plus the evaluations
    and checkpoint saves still to come at their measured median cost (none measured yet: not counted). No step
    measured yet: None. The run's last step saves no checkpoint (the adapter is saved instead)."""
    per_step = typical_step_s(step_times)
    if per_step is None:
        return None
    left = max(0, max_steps - step) * per_step
    if eval_times:
        left += every(eval_every, step, max_steps) * median(eval_times)
    if save_times:
        left += every(save_every, step, max_steps - 1) * median(save_times)
    return left


@dataclass
class WallEstimate:
    """A run's wall time as the sum of its parts, each measured by the Check's probe or scaled from it."""
    startup_s: float  # the worker's imports, the rows, the plan, loading the weights (measured)
    tokenize_s: float  # preparing every training row (measured on a sample, scaled to all rows)
    step_s: float  # one optimizer step (the median of the probe's steps after the first)
    steps: int  # epochs × rows / effective batch (or max_steps)
    warmup_s: float  # what the first step costs over a typical one
    evals: int = 0
    eval_s: float = 0.0  # one evaluation over the eval rows (scaled from the probe's batches)
    saves: int = 0
    save_s: float = 0.0  # one checkpoint (measured by the probe's save)
    finish_s: float = 0.0  # saving the result at the end (one save)

    @property
    def train_s(self) -> float:
        return self.steps * self.step_s + self.warmup_s

    @property
    def total_s(self) -> float:
        return (self.startup_s + self.tokenize_s + self.train_s + self.evals * self.eval_s + self.saves * self.save_s
                + self.finish_s)

    def to_dict(self) -> dict:
        return {**asdict(self), "train_s": round(self.train_s, 2), "total_s": round(self.total_s, 2)}


def wall_estimate(startup_s: float, tokenize_s: float, step_times: list[float], steps: int,
                  eval_every: int | None = None, eval_s: float = 0.0, save_every: int | None = None,
                  save_s: float = 0.0) -> WallEstimate:
    """The whole run from a probe's measurements: `step_times` are the probe's steps, the first a warm-up."""
    step = typical_step_s(step_times) or 0.0
    warmup = max(0.0, step_times[0] - step) if step_times else 0.0
    return WallEstimate(startup_s=startup_s, tokenize_s=tokenize_s, step_s=step, steps=steps, warmup_s=warmup,
                        evals=every(eval_every, 0, steps), eval_s=eval_s,
                        saves=every(save_every, 0, steps - 1), save_s=save_s, finish_s=save_s)


def scaled(seconds: float, measured: int, total: int) -> float:
    """A time measured on `measured` items, scaled to `total` items (linear: rows, batches, requests)."""
    return seconds * total / measured if measured else 0.0


def steps_for(rows: int, batch_size: int, grad_accum: int, epochs: float, max_steps: int = 0, world: int = 1) -> int:
    """Optimizer steps of a run: max_steps when set, else epochs × rows / effective batch (as the trainer counts)."""
    if max_steps > 0:
        return max_steps
    per_epoch = math.ceil(rows / (batch_size * world) / grad_accum)
    return max(1, math.ceil(per_epoch * epochs))
