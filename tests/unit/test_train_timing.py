"""Honest time: the live ETA from measured step times, and the Check's wall-time sum."""
import signal

import pytest

from lab.jobs import store
from lab.jobs.context import JobContext
from lab.train import timing


def test_typical_step_skips_the_warm_up_and_outliers():
    assert timing.typical_step_s([]) is None
    assert timing.typical_step_s([30.0]) == 30.0  # the first alone is all there is
    assert timing.typical_step_s([30.0, 2.0, 2.2, 1.8]) == 2.0  # warm-up left out
    assert timing.typical_step_s([30.0, 2.0, 9.0, 2.0]) == 2.0  # one slow step does not move the median
    recent = [30.0] + [5.0] * 30 + [1.0] * timing.RECENT
    assert timing.typical_step_s(recent) == 1.0  # the run sped up: the recent steps count


def test_remaining_counts_steps_evals_and_saves_to_come():
    steps = [40.0, 2.0, 2.0, 2.0]  # a slow first step, then 2 s steps
    assert timing.remaining_s(steps, 4, 12) == 8 * 2.0
    # eval every 5 steps (at 5 and 10), measured at 6 s; save every 5 (at 5 and 10, not at 12, the last step)
    assert timing.remaining_s(steps, 4, 12, 5, [6.0], 5, [1.0]) == 8 * 2.0 + 2 * 6.0 + 2 * 1.0
    assert timing.remaining_s(steps, 4, 12, 5, [], 5, []) == 16.0  # none measured yet: not guessed
    assert timing.remaining_s(steps, 12, 12, 5, [6.0]) == 0.0
    assert timing.remaining_s([], 0, 12) is None
    assert timing.every(5, 4, 11) == 2 and timing.every(5, 5, 5) == 0 and timing.every(None, 0, 9) == 0


def test_wall_estimate_is_the_sum_of_its_parts():
    est = timing.wall_estimate(startup_s=20.0, tokenize_s=3.0, step_times=[9.0, 2.0, 2.0], steps=30,
                               eval_every=10, eval_s=4.0, save_every=10, save_s=1.5)
    assert est.step_s == 2.0 and est.warmup_s == 7.0
    assert est.evals == 3 and est.saves == 2  # no checkpoint at the last step; the result is saved instead
    assert est.total_s == pytest.approx(20 + 3 + 30 * 2 + 7 + 3 * 4 + 2 * 1.5 + 1.5)
    assert est.to_dict()["total_s"] == round(est.total_s, 2)
    assert timing.steps_for(100, 4, 2, 3.0) == 39 and timing.steps_for(100, 4, 2, 3.0, max_steps=7) == 7
    assert timing.scaled(2.0, 10, 50) == 10.0


class _Args:
    eval_strategy, eval_steps, save_strategy, save_steps = "steps", 4, "steps", 4


class _State:
    def __init__(self, step, max_steps=12):
        self.global_step, self.max_steps = step, max_steps


class _Control:
    should_log = should_save = should_training_stop = False


def test_a_jobs_eta_comes_from_its_step_times_not_its_start_up(monkeypatch):
    """A 12-step run with 70 s of start-up, a 30 s first step, 2 s steps, a 5 s evaluation and a 1 s save."""
    from lab.train import callbacks

    clock = [1000.0]
    monkeypatch.setattr(callbacks.time, "time", lambda: clock[0])
    job = store.create("t", "x:y", False, "{}")
    with store.connect(immediate=True) as con:
        store.set_state(con, job.id, "running", started=clock[0] - 70)  # start-up: loading, tokenizing
    job.folder.mkdir(parents=True)
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # the job context's SIGTERM handler: not in pytest
    ctx = JobContext(store.get_job(job.id), {})
    logs: list[str] = []
    ctx.log = logs.append
    ctx.folder = None
    cb = callbacks.LabCallback(ctx)
    cb.on_train_begin(_Args(), _State(0), _Control())
    assert store.get_job(job.id).eta_s(clock[0]) is None  # no step measured: no guess
    assert store.get_job(job.id).message.startswith("Starting (5/5): the first step")

    def step(n, seconds):
        clock[0] += seconds
        monkeypatch.setattr(ctx, "_last_progress", 0.0)  # every update lands (no 0.25 s throttle)
        cb.on_step_end(_Args(), _State(n), _Control())
        cb.on_log(_Args(), _State(n), _Control(), logs={"loss": 1.0, "learning_rate": 1e-4})

    step(1, 30.0)
    assert store.get_job(job.id).eta_s(clock[0]) == pytest.approx(11 * 30.0)  # only the warm-up so far
    for n in (2, 3, 4):
        step(n, 2.0)
    clock[0] += 5.0
    cb.on_evaluate(_Args(), _State(4), _Control())
    clock[0] += 1.0
    cb.on_save(_Args(), _State(4), _Control())
    step(5, 2.0)
    assert cb.step_times == [30.0, 2.0, 2.0, 2.0, 2.0]  # the evaluation and the save are timed apart
    assert cb.eval_times == [5.0] and cb.save_times == [1.0]
    # 7 steps of 2 s, evaluations at 8 and 12 (5 s each), a save at 8 (not at the last step)
    assert store.get_job(job.id).eta_s(clock[0]) == pytest.approx(7 * 2.0 + 2 * 5.0 + 1 * 1.0)
    assert store.get_job(job.id).eta_s(clock[0] + 4) == pytest.approx(21.0)  # counts down between steps
    assert sum(line.startswith("step ") for line in logs) == 5  # one log line per step
