"""The Trainer callback that connects a run to the lab: metrics every step, progress, cancel, non-finite stop."""
from __future__ import annotations

import math
import time

from transformers import TrainerCallback

from lab.jobs.context import note_run
from lab.train.memory_guard import current_gb

# Trainer log keys -> the lab's metric names
KEYS = {"loss": "loss", "eval_loss": "eval_loss", "learning_rate": "lr", "grad_norm": "grad_norm",
        "epoch": "epoch", "rewards/margins": "reward_margin", "rewards/accuracies": "reward_accuracy",
        "rewards/chosen": "reward_chosen", "rewards/rejected": "reward_rejected", "entropy": "entropy",
        "mean_token_accuracy": "token_accuracy", "eval_rewards/margins": "eval_reward_margin"}


class NonFiniteLoss(Exception):
    def __init__(self, step: int, last_checkpoint: str | None):
        self.step, self.last_checkpoint = step, last_checkpoint
        super().__init__(f"non-finite loss at step {step}")


def _finite(x) -> bool:
    return x is None or (isinstance(x, (int, float)) and math.isfinite(x))


class LabCallback(TrainerCallback):
    """Reports to a job context (or the CLI's stand-in): ctx.metric / ctx.progress / ctx.log / ctx.cancelled."""

    def __init__(self, ctx, main: bool = True, fp16: bool = False, log_every: int = 10, device: str = ""):
        self.ctx, self.main, self.fp16, self.log_every, self.device = ctx, main, fp16, log_every, device
        self.keys = dict(KEYS)  # a method adds its own (GRPO: each reward's mean)
        self.t_last = None
        self.tokens_last = 0
        self.t_start = time.time()
        self.stopped_nonfinite: int | None = None
        self.cancelled = False
        self.step_times: list[float] = []

    def on_train_begin(self, args, state, control, **kw):
        self.t_last = time.time()
        self.tokens_last = state.num_input_tokens_seen
        self.first_step = state.global_step
        if self.main and state.global_step:
            self.ctx.log(f"Resumed at step {state.global_step} of {state.max_steps}.")

    def on_step_begin(self, args, state, control, **kw):
        folder = getattr(self.ctx, "folder", None)
        if self.main and folder is not None:  # the step in progress, for a memory stop's message
            note_run(folder, step=state.global_step + 1)
        return control

    def on_step_end(self, args, state, control, **kw):
        now = time.time()
        self.step_times.append(now - self.t_last)
        self._dt, self.t_last = now - self.t_last, now
        if getattr(self.ctx, "cancelled", False):
            # save where we are, then stop: resume continues from this step
            self.cancelled = True
            control.should_save = True
            control.should_training_stop = True
        elif state.global_step >= state.max_steps:
            control.should_save = False  # the finished adapter is saved next; a last checkpoint would be thrown away
        return control

    def on_log(self, args, state, control, logs=None, **kw):
        logs = logs or {}
        bad = not _finite(logs.get("loss")) or (not self.fp16 and not _finite(logs.get("grad_norm")))
        if bad and "loss" in logs:
            self.stopped_nonfinite = state.global_step
            control.should_save = False  # keep the last good checkpoint
            control.should_training_stop = True
            if self.main:
                self.ctx.log(f"Loss is not finite at step {state.global_step}: stopping.")
            return control
        row = {self.keys[k]: round(float(v), 6) for k, v in logs.items() if k in self.keys and _finite(v)}
        if not row or not self.main:
            return control
        row["step"] = state.global_step
        if "loss" in logs:
            tokens = state.num_input_tokens_seen - self.tokens_last
            dt = getattr(self, "_dt", 0) or 1e-9
            self.tokens_last = state.num_input_tokens_seen
            row.update(step_time=round(dt, 4), tokens_per_s=round(tokens / dt, 1) if tokens else None)
            if self.device:  # RSS on CPU, what PyTorch holds on a GPU: the live view shows it next to the estimate
                row["mem_gb"] = round(current_gb(self.device), 3)
        self.ctx.metric(**{k: v for k, v in row.items() if v is not None})
        self._progress(state, logs)
        return control

    def _progress(self, state, logs) -> None:
        total = max(1, state.max_steps)
        frac = state.global_step / total
        msg = f"step {state.global_step}/{total}"
        if "loss" in logs:
            msg += f" · loss {logs['loss']:.4f}"
        self.ctx.progress(min(frac, 0.99), msg)
        if "loss" in logs and (state.global_step % self.log_every == 0 or state.global_step in (1, total)):
            self.ctx.log(msg + f" · lr {logs.get('learning_rate', 0):.2e}")
        if "eval_loss" in logs:
            self.ctx.log(f"step {state.global_step}: eval loss {logs['eval_loss']:.4f}")

    def on_evaluate(self, args, state, control, **kw):
        self.t_last = time.time()  # the next step's time is its own, not the evaluation's
        return control

    def on_save(self, args, state, control, **kw):
        self.t_last = time.time()  # nor the checkpoint's
        if self.main:
            save_s = round(time.time() - self.t_last, 2)  # the save follows the step's end
            self.ctx.log(f"Checkpoint saved at step {state.global_step} ({save_s:.1f} s).")
            if getattr(self.ctx, "folder", None) is not None:
                note_run(self.ctx.folder, save_s=save_s)
        hook = getattr(self.ctx, "on_checkpoint", None)
        if hook and self.main:
            hook(state.global_step)
        return control
