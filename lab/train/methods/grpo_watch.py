"""Watching GRPO learn: sample completions per logged step, "no signal" when every reward stays 0, and which
reward dominates the advantage.

The lab's own callback writes the metrics row (each reward's mean, the total, KL, completion length, clipped
share). This callback adds, per logged step, the latest generation batch with each reward's score to
samples.jsonl, and keeps watch.json (what the Train tab warns about) in the run's folder.
"""
from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback

from lab.train.methods.grpo_report import SAMPLES, WATCH
from lab.train.methods.rewards import unique_names

NO_SIGNAL = "no signal: check the reward"


def dominance(logs: dict, weights: dict[str, float]) -> dict[str, float]:
    """Each reward's share of the weighted spread (|weight| × std) of this step: GRPO's advantage comes from
    the spread within a group, so the reward with most of it drives learning."""
    spread = {n: abs(w) * float(logs.get(f"rewards/{n}/std") or 0.0) for n, w in weights.items()}
    total = sum(spread.values())
    return {n: v / total for n, v in spread.items()} if total > 0 else {}


class GrpoWatch(TrainerCallback):
    def __init__(self, ctx, recipe, rewards: list, book, main: bool = True, per_step: int = 8, log_every: int = 10):
        self.ctx, self.main, self.per_step, self.log_every = ctx, main, per_step, log_every
        self.folder = Path(ctx.folder)
        self.weights = dict(zip(unique_names(recipe.method.rewards), (s.weight for s in recipe.method.rewards)))
        self.rewards, self.book = rewards, book
        self.no_signal_steps = recipe.method.no_signal_steps
        self.zero_steps = 0
        self.written = None  # the generation batch last written to samples.jsonl
        self.shares: dict[str, float] = {}
        self.state = {"no_signal": "", "dominant": "", "shares": {}, "skipped": {}}

    def on_log(self, args, state, control, logs=None, **kw):
        logs = logs or {}
        if not self.main or "reward" not in logs:
            return control
        step = state.global_step
        self._samples(step)
        self._signal(step, logs)
        for name, share in dominance(logs, self.weights).items():
            self.shares[name] = self.shares.get(name, 0.0) + share
        if step % self.log_every == 0 or step == 1:
            self._log_dominant()
        self.state["skipped"] = {r.__name__: r.errors for r in self.rewards if r.errors}
        self._write()
        return control

    def on_train_end(self, args, state, control, **kw):
        if self.main:
            self._log_dominant()
            self._write()
        return control

    def _samples(self, step: int) -> None:
        if self.book.batch_key == self.written:
            return  # with gradient accumulation, several steps train on one generation batch: shown once
        self.written = self.book.batch_key
        rows = self.book.rows(self.weights, self.per_step)
        with open(self.folder / SAMPLES, "a") as f:
            for row in rows:
                f.write(json.dumps({"step": step, **row}, ensure_ascii=False) + "\n")

    def _signal(self, step: int, logs: dict) -> None:
        all_zero = all(float(logs.get(f"rewards/{n}/mean") or 0.0) == 0.0 and
                       float(logs.get(f"rewards/{n}/std") or 0.0) == 0.0 for n in self.weights)
        if step <= self.no_signal_steps and all_zero:
            self.zero_steps += 1
            if self.zero_steps == self.no_signal_steps and not self.state["no_signal"]:
                self.state["no_signal"] = (f"{NO_SIGNAL}: every reward was 0 for the first {self.no_signal_steps} "
                                           f"steps, so GRPO has nothing to learn from. Preview the rewards on a few "
                                           f"generations, loosen a format, or give partial credit.")
                self.ctx.log(f"warning: {self.state['no_signal']}")

    def _log_dominant(self) -> None:
        total = sum(self.shares.values())
        if total <= 0 or len(self.weights) < 2:
            return
        shares = {n: v / total for n, v in sorted(self.shares.items(), key=lambda kv: -kv[1])}
        top, share = next(iter(shares.items()))
        parts = ", ".join(f"{n} {v:.0%}" for n, v in shares.items())
        self.state.update(dominant=top, shares={n: round(v, 3) for n, v in shares.items()})
        self.ctx.log(f"Reward {top!r} dominates: {share:.0%} of the weighted reward spread so far ({parts}).")

    def _write(self) -> None:
        (self.folder / WATCH).write_text(json.dumps(self.state, indent=2))
