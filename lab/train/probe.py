"""The Check's timing probe: a few real steps of the user's recipe, timed, summed into the run's wall time.

`python -m lab.train.probe` (the recipe's YAML on stdin, one JSON line out) runs in its own process, as a job's
worker does, so the estimate counts what a job pays before its first step: importing torch and TRL, reading the
rows, planning, loading the weights. Then it tokenizes a sample of the rows (timed, and scaled to all of them),
runs PROBE_STEPS real optimizer steps of the user's batch (GRPO: generation included), saves one checkpoint and
evaluates a sample of the eval rows (scaled likewise). The sums are lab.train.timing's.

The probe is compute: off on the demo, only for a caller who may start the run, one at a time, and never while a
heavy job runs (it would time that job's share of the machine, and slow it).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil

from lab import jobs
from lab.access import Caller
from lab.errors import LabError
from lab.jobs import manager, store
from lab.jobs.worker_setup import passive_threads, quiet_libraries
from lab.train import KINDS, build, methods, preflight, timing, worker
from lab.train.recipe import TrainRecipe
from lab.ui_text import duration

PROBE_STEPS = 3  # the first is a warm-up: the typical step is the median of the other two
SAMPLE_ROWS = 32  # rows tokenized by the probe (at least PROBE_STEPS + 1 batches), the time scaled to all rows
EVAL_SAMPLE_ROWS = 8
TIMEOUT_S = 600
_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds the `lab` package
_ONE_AT_A_TIME = threading.Lock()
_TIMED: dict[str, dict] = {}  # the last probe of each recipe (its YAML without the output name): for the presets


def _key(recipe: TrainRecipe) -> str:
    return recipe.model_copy(update={"output_name": ""}).to_yaml()


def last_timed(recipe: TrainRecipe) -> dict | None:
    """The last probe of this very recipe in this app, if Check timed it."""
    return _TIMED.get(_key(recipe))


def refusal(recipe: TrainRecipe, caller: Caller | None) -> str:
    """Why this caller gets no probe ("" when they do): it runs what a training job runs."""
    try:
        jobs.check_allowed(KINDS[recipe.method.name])
        if caller is not None:
            caller.require_signed_in("Timing the run")
            methods.of(recipe).check_start(recipe, caller)
    except LabError as exc:
        return str(exc)
    if any(j.heavy for j in store.list_jobs(states=("running",))):
        return "A job is running: a probe now would time its share of the machine. Press Check when it ends."
    return ""


def time_run(recipe: TrainRecipe, token: str | None = None, owner: str = "") -> dict:
    """The probe's measurements and the run's estimate ({"estimate": WallEstimate.to_dict(), ...})."""
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        raise LabError("Another Check is timing a run right now.", "Press Check again in a minute.", "check")
    try:
        env = manager.worker_env(token, KINDS[recipe.method.name], owner)
        done = subprocess.run([sys.executable, "-m", "lab.train.probe"], input=recipe.to_yaml(), text=True,
                              capture_output=True, env=env, cwd=str(_ROOT), timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise LabError(f"The timing probe took over {TIMEOUT_S} s.", "Lower batch_size or max_seq_length, or "
                       "start the run and read its ETA after a few steps.", "check") from None
    finally:
        _ONE_AT_A_TIME.release()
    last = (done.stdout.strip().splitlines() or [""])[-1]
    try:
        out = json.loads(last)
    except ValueError:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise LabError(f"The timing probe failed: {tail[-600:]}", "Fix what the message names, or start the run "
                       "and read its ETA after a few steps.", "check") from None
    if "error" in out:
        raise LabError(out["error"], out.get("fix", ""), out.get("field", "check"))
    _TIMED[_key(recipe)] = out
    return out


def text(out: dict) -> str:
    """'**Time:** about 4m 10s on this machine: …' from a probe's result."""
    e = out["estimate"]
    parts = [f"start-up {duration(e['startup_s'])}", f"tokenizing {duration(e['tokenize_s'])}",
             f"{e['steps']} steps × {e['step_s']:.2f} s (+{e['warmup_s']:.1f} s first-step warm-up)"]
    if e["evals"]:
        parts.append(f"{e['evals']} evaluations × {e['eval_s']:.1f} s")
    if e["saves"]:
        parts.append(f"{e['saves']} checkpoints × {e['save_s']:.1f} s")
    parts.append(f"saving the result {e['finish_s']:.1f} s")
    extra = " Not counted: " + ", ".join(out["not_counted"]) + "." if out.get("not_counted") else ""
    return (f"**Time:** about **{duration(e['total_s'])}** on this machine: {', '.join(parts)}. Timed by running "
            f"{PROBE_STEPS} real steps of this recipe ({duration(out['probe_s'])}).{extra}")


def not_counted(recipe: TrainRecipe) -> list[str]:
    """What a run does after training that the estimate leaves out (it depends on other machines or stages)."""
    out = []
    if recipe.merge and recipe.adapter != "full":
        out.append("merging the adapter")
    if recipe.eval_tasks:
        out.append("the evaluation tasks after training")
    if recipe.push_to or recipe.push_checkpoints_to:
        out.append("uploads to the Hub")
    return out


# ---- the probe's own process --------------------------------------------------------------------------------
def _measure(recipe: TrainRecipe, token: str | None) -> dict:
    passive_threads()
    from lab.train.callbacks import LabCallback  # heavy: transformers

    quiet_libraries()
    t0 = psutil.Process().create_time()
    method = methods.of(recipe)
    ds, kind = method.rows(recipe, token)
    pre = preflight.check(recipe, token=token, ds=(ds, kind))
    train_ds, eval_ds = worker.split(ds, pre.recipe, pre.eval_rows)
    load = build.load_weights  # (Unsloth: a GPU engine; the probe times the TRL path on a GPU too)
    model, tok = load(pre.recipe, pre.plan, token, lambda m: None)
    startup = time.time() - t0
    n_train = min(len(train_ds), max(SAMPLE_ROWS, (PROBE_STEPS + 1) * method.rows_per_batch(pre.recipe)
                                     * pre.recipe.grad_accum))
    n_eval = min(len(eval_ds), EVAL_SAMPLE_ROWS) if eval_ds is not None else 0
    probe_recipe = pre.recipe.model_copy(update={"max_steps": PROBE_STEPS, "save_steps": PROBE_STEPS - 1,
                                                 "eval_steps": 10 * PROBE_STEPS, "push_to": "",
                                                 "push_checkpoints_to": ""})
    quiet = type("Quiet", (), {"folder": None, "cancelled": False, "log": lambda *a: None,
                               "metric": lambda *a, **k: None, "progress": lambda *a, **k: None})()
    cb = LabCallback(quiet, device=pre.plan.device)
    with tempfile.TemporaryDirectory(prefix="probe-") as out, _MapClock() as mapped:
        quiet.folder = Path(out)  # what a method writes beside its run (GRPO's sampled answers) lands here
        t_build = time.time()
        trainer = worker.make_trainer(probe_recipe, replace(pre, recipe=probe_recipe), model, tok,
                                      (train_ds.select(range(n_train)), eval_ds.select(range(n_eval)) if n_eval
                                       else None, kind), Path(out) / "checkpoints", [cb], ctx=quiet, main=True,
                                      token=token)
        built = time.time() - t_build
        tokenized = mapped.seconds
        trainer.train()
        t_eval = time.time()
        if n_eval:
            trainer.evaluate()
        eval_s = time.time() - t_eval
    # what the trainer kept of the sample (packing joins rows, a preference pair too long is dropped) scales the rows
    kept = len(trainer.train_dataset) / n_train if hasattr(trainer.train_dataset, "__len__") else 1.0
    steps = worker.total_steps(pre.recipe, max(1, round(pre.train_rows * kept)))
    # the job's own rule for how often it evaluates (lab.train.build)
    eval_every = (pre.recipe.eval_steps or max(1, worker.total_steps(pre.recipe, pre.train_rows) // 10)) \
        if pre.eval_rows else None
    estimate = timing.wall_estimate(
        startup_s=startup + built - tokenized, tokenize_s=timing.scaled(tokenized, n_train + n_eval,
                                                                        pre.train_rows + pre.eval_rows),
        step_times=cb.step_times, steps=steps, eval_every=eval_every,
        eval_s=timing.scaled(eval_s, n_eval, pre.eval_rows), save_every=pre.recipe.save_steps,
        save_s=(cb.save_times or [0.0])[0])
    return {"estimate": estimate.to_dict(), "probe_steps": cb.step_times, "probe_s": round(time.time() - t0, 2),
            "sampled_rows": n_train, "device": pre.plan.device, "not_counted": not_counted(pre.recipe)}


class _MapClock:
    """Seconds spent in datasets' map and filter while open: the trainer's tokenizing, which scales with rows.
    (filter calls map: only the outermost call counts.)"""

    def __enter__(self):
        from datasets import Dataset  # heavy: datasets

        self.seconds, self._saved, self._depth = 0.0, {}, 0
        for name in ("map", "filter"):
            self._saved[name] = original = getattr(Dataset, name)
            setattr(Dataset, name, self._timed(original))
        return self

    def _timed(self, fn):
        def timed(*args, **kwargs):
            t = time.time()
            self._depth += 1
            try:
                return fn(*args, **kwargs)
            finally:
                self._depth -= 1
                if not self._depth:
                    self.seconds += time.time() - t
        return timed

    def __exit__(self, *exc):
        from datasets import Dataset  # heavy: datasets

        for name, fn in self._saved.items():
            setattr(Dataset, name, fn)


def main() -> int:
    recipe = TrainRecipe.from_yaml(sys.stdin.read())
    token = os.environ.get("HF_TOKEN") or None
    try:
        out = _measure(recipe, token)
    except LabError as exc:
        out = {"error": exc.what, "fix": exc.fix, "field": exc.field}
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
