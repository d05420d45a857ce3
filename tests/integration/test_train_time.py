"""The Train tab's Check times a short probe of the real recipe (the bundled SmolLM2, real rows) and sums the run's
wall time from its parts; the preset note then says what that recipe costs here. Who may run the probe."""
import pytest

from lab.access import ANONYMOUS, Caller, local
from lab.jobs import store
from lab.settings import get_settings
from lab.train import panel, probe
from lab.train.recipe import TrainRecipe


def _recipe(bundled_model, alpaca_path) -> TrainRecipe:
    return TrainRecipe(method="sft", model=str(bundled_model), dataset=str(alpaca_path), max_rows=24, batch_size=2,
                       max_seq_length=64, epochs=1, save_steps=4)


def test_check_times_the_run_from_a_probe_of_real_steps(bundled_model, alpaca_path):
    recipe = _recipe(bundled_model, alpaca_path)
    assert "press **Check** to time it" in panel.preset_note("LoRA 16-bit", recipe)
    out = panel.check(recipe, caller=local(), timed=True)
    e = out["time"]["estimate"]
    assert out["time"]["refused"] == "" and "**Time:** about" in out["markdown"]
    assert len(out["time"]["probe"]["probe_steps"]) == probe.PROBE_STEPS
    assert e["steps"] == 12 and e["saves"] == 2  # 24 rows / batch 2; checkpoints at 4 and 8, not at the last
    assert all(e[k] > 0 for k in ("startup_s", "tokenize_s", "step_s", "save_s", "total_s"))
    parts = e["startup_s"] + e["tokenize_s"] + e["steps"] * e["step_s"] + e["warmup_s"] + e["evals"] * e["eval_s"] \
        + e["saves"] * e["save_s"] + e["finish_s"]
    assert e["total_s"] == pytest.approx(parts, abs=0.02)
    assert "timed by Check" in panel.preset_note("LoRA 16-bit", recipe)


def test_the_probe_is_compute_refused_on_the_demo_and_to_anonymous_visitors(bundled_model, alpaca_path,
                                                                              monkeypatch):
    recipe = _recipe(bundled_model, alpaca_path)
    anonymous = Caller(ANONYMOUS, session="s1")
    assert "sign" in probe.refusal(recipe, anonymous).lower()
    job = store.create("train.sft", "lab.train.worker:run", True, "{}")
    with store.connect(immediate=True) as con:  # recorded as running: the probe would time its share of the CPU
        store.set_state(con, job.id, "running")
    assert "A job is running" in probe.refusal(recipe, local())
    store.delete(job.id)
    monkeypatch.setenv("LAB_DEMO", "1")
    get_settings.cache_clear()
    out = panel.time_estimate(recipe, caller=local())
    assert out["estimate"] is None and "demo" in out["refused"]
