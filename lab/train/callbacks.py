"""The Trainer callback that connects a run to the lab: metrics every step, progress, cancel, non-finite stop.

On CPU every step is logged, with a line in the job log (reading the loss costs nothing there). On a GPU, a
logged step reads the loss and the gradient norm back from the device, which waits for the GPU to finish and leaves
it idle while the next step is prepared; so there a step is logged when `log_every_s` has passed since the last one (and the first and last
steps always), and its row holds the mean loss, the step time and the tokens/s of the steps since the last row.
Tokens are counted on the CPU as batches are collated (lab.train.tokens), never read back from the device; in
a multi-process run the ranks' counts are summed each step, so tokens/s is the whole run's, not rank 0's share.
The job's ETA is the recent steps' median time times the steps left, plus the evaluations and saves to come at
their measured cost (lab.train.timing); a step's time never includes an evaluation or a save.
"""
from __future__ import annotations

import math
import time

from transformers import TrainerCallback
from transformers.integrations.integration_utils import TrackioCallback, rewrite_logs

from lab.jobs.context import note_run
from lab.train.distributed import across_ranks
from lab.train.memory_guard import current_gb
from lab.train.timing import remaining_s

# Trainer log keys -> the lab's metric names
KEYS = {"loss": "loss", "eval_loss": "eval_loss", "learning_rate": "lr", "grad_norm": "grad_norm",
        "epoch": "epoch", "rewards/margins": "reward_margin", "rewards/accuracies": "reward_accuracy",
        "rewards/chosen": "reward_chosen", "rewards/rejected": "reward_rejected", "entropy": "entropy",
        "mean_token_accuracy": "token_accuracy", "eval_rewards/margins": "eval_reward_margin"}


def _interval(args, what: str) -> int | None:
    """Every how many steps the run evaluates ("eval") or saves ("save"); None when it does not by steps."""
    strategy = getattr(args, f"{what}_strategy", "no")
    steps = getattr(args, f"{what}_steps", None)
    return int(steps) if str(strategy).endswith("steps") and steps and steps >= 1 else None


class NonFiniteLoss(Exception):
    def __init__(self, step: int, last_checkpoint: str | None):
        self.step, self.last_checkpoint = step, last_checkpoint
        super().__init__(f"non-finite loss at step {step}")


def _finite(x) -> bool:
    return x is None or (isinstance(x, (int, float)) and math.isfinite(x))


class LabCallback(TrainerCallback):
    """Reports to a job context (or the CLI's stand-in): ctx.metric / ctx.progress / ctx.log / ctx.cancelled."""

    def __init__(self, ctx, main: bool = True, fp16: bool = False, device: str = "", log_every_s: float = 0.0):
        self.ctx, self.main, self.fp16, self.device = ctx, main, fp16, device
        self.log_every_s = log_every_s  # 0: log every step; else at most this often (a GPU run)
        self.keys = dict(KEYS)  # a method adds its own (GRPO: each reward's mean)
        self.counter = None  # a lab.train.tokens.TokenCounter on the trainer's collator
        self.t_last = None
        self.t_start = time.time()
        self.t_logged = 0.0
        self.stopped_nonfinite: int | None = None
        self.cancelled = False
        self.step_times: list[float] = []  # this process's steps (the first is the warm-up)
        self.eval_times: list[float] = []
        self.save_times: list[float] = []
        self.every = {"eval": None, "save": None}  # the run's evaluation and checkpoint intervals, in steps
        self._since = {"steps": 0, "time": 0.0, "tokens": 0, "counted": False}  # since the last logged step
        self._step_tokens = 0  # this rank's real tokens of the step in progress (summed over the ranks at its end)

    def on_train_begin(self, args, state, control, **kw):
        self.t_last = self.t_logged = time.time()
        self.first_step = state.global_step
        self.every = {what: _interval(args, what) for what in ("eval", "save")}
        if self.main and state.global_step < state.max_steps:
            self.ctx.progress(0.01, f"Starting (5/5): the first step of {state.max_steps} (the slowest: it warms "
                              "up)…", force=True)
        if self.main and state.global_step:
            self.ctx.log(f"Resumed at step {state.global_step} of {state.max_steps}.")

    def on_step_begin(self, args, state, control, **kw):
        folder = getattr(self.ctx, "folder", None)
        if self.main and folder is not None:  # the step in progress, for a memory stop's message
            note_run(folder, step=state.global_step + 1)
        return control

    def on_substep_end(self, args, state, control, **kw):
        self._count_micro_batch()
        return control

    def _count_micro_batch(self) -> None:
        n = self.counter.take() if self.counter is not None else None
        if n is not None:
            self._step_tokens += n
            self._since["counted"] = True

    def on_step_end(self, args, state, control, **kw):
        now = time.time()
        self._count_micro_batch()
        if self.counter is not None:
            self.counter.mark()
        self.step_times.append(now - self.t_last)
        self._since["steps"] += 1
        self._since["time"] += now - self.t_last
        self.t_last = now
        last = state.global_step >= state.max_steps
        skip_log = bool(self.log_every_s and control.should_log and not last and state.global_step > 1
                        and now - self.t_logged < self.log_every_s)  # batched: the next logged row covers this step
        cancel, tokens, skip_log = across_ranks(getattr(self.ctx, "cancelled", False), self._step_tokens, skip_log)
        self._since["tokens"] += tokens  # every rank's tokens: rank 0 logs the run's throughput, not its share
        self._step_tokens = 0
        if skip_log:
            control.should_log = False
        if cancel:  # every rank stops at the same step (saving is collective)
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
            row.update(self._interval())
            if self.device:  # RSS on CPU, what PyTorch holds on a GPU: the live view shows it next to the estimate
                row["mem_gb"] = round(current_gb(self.device), 3)
        self.ctx.metric(**{k: v for k, v in row.items() if v is not None})
        self._progress(state, logs)
        return control

    def _interval(self) -> dict:
        """Step time and real tokens of the steps since the last logged row (one step on CPU)."""
        since, self.t_logged = self._since, time.time()
        self._since = {"steps": 0, "time": 0.0, "tokens": 0, "counted": False}
        dt = since["time"] or 1e-9
        out = {"step_time": round(dt / max(1, since["steps"]), 4)}
        if since["counted"] and since["tokens"]:
            out.update(tokens=since["tokens"], tokens_per_s=round(since["tokens"] / dt, 1))
        return out

    def _progress(self, state, logs) -> None:
        total = max(1, state.max_steps)
        frac = state.global_step / total
        msg = f"step {state.global_step}/{total}"
        if "loss" in logs:
            msg += f" · loss {logs['loss']:.4f}"
        left = remaining_s(self.step_times, state.global_step, total, self.every["eval"], self.eval_times,
                           self.every["save"], self.save_times)
        self.ctx.progress(min(frac, 0.99), msg, eta_s=left)
        if "loss" in logs:  # every logged row (every step on CPU; on a GPU at most every log_every_s)
            self.ctx.log(msg + f" · lr {logs.get('learning_rate', 0):.2e}")
        if "eval_loss" in logs:
            self.ctx.log(f"step {state.global_step}: eval loss {logs['eval_loss']:.4f}")

    def on_evaluate(self, args, state, control, **kw):
        now = time.time()
        self.eval_times.append(now - self.t_last)  # it started when the step (and its log row) ended
        self.t_last = now  # the next step's time is its own, not the evaluation's
        if self.counter is not None:
            self.counter.drop_since_mark()  # the evaluation's batches went through the same collator
        return control

    def on_save(self, args, state, control, **kw):
        now = time.time()
        save_s = round(now - self.t_last, 2)  # the save follows the step's end (or its evaluation)
        self.save_times.append(save_s)
        self.t_last = now  # nor the checkpoint's
        if self.main:
            self.ctx.log(f"Checkpoint saved at step {state.global_step} ({save_s:.1f} s).")
            if getattr(self.ctx, "folder", None) is not None:
                note_run(self.ctx.folder, save_s=save_s)
        hook = getattr(self.ctx, "on_checkpoint", None)
        if hook and self.main:
            hook(state.global_step)
        return control


RUN_TOTALS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos")


class TrackioAtSteps(TrackioCallback):
    """transformers' trackio callback, logging each row at the trainer's step. Left alone, trackio numbers the rows
    itself (from 0, and a resumed run goes on past its last row), so the dashboard's steps are not the run's."""

    def on_log(self, args, state, control, model=None, logs=None, **kwargs):
        if not self._initialized:
            self.setup(args, state, model)
        if state.is_world_process_zero:
            row = rewrite_logs({k: v for k, v in (logs or {}).items() if k not in RUN_TOTALS})
            self._trackio.log({**row, "train/global_step": state.global_step}, step=state.global_step)


def log_trackio_at_steps(trainer) -> None:
    """Swap the trackio callback that report_to trackio added for TrackioAtSteps."""
    if trainer.pop_callback(TrackioCallback) is not None:
        trainer.add_callback(TrackioAtSteps())
