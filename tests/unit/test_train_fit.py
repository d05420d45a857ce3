"""Defaults that fit: what the lab lowers, in what order, what it never touches, and the refusal's numbers."""
from __future__ import annotations

import pytest

from lab.errors import LabError
from lab.hardware import Hardware
from lab.train import preflight
from lab.train.fit import fit, refusal
from lab.train.recipe import TrainRecipe

CPU = Hardware(ram_gb=24, bnb_ok=True, cpu_count=2)


def _estimate(r: TrainRecipe) -> float:
    """A stand-in: 1 GB fixed, activations by tokens, a third of them with checkpointing."""
    act = r.batch_size * r.max_seq_length / 1000
    return 1.0 + (act / 3 if r.gradient_checkpointing == "on" else act)


def test_batch_first_keeping_the_effective_batch_then_checkpointing_then_length():
    start = TrainRecipe(batch_size=8, grad_accum=2, max_seq_length=1024)
    assert start.auto_fit == []  # set by the caller: pinned
    auto = TrainRecipe.parse({"grad_accum": 2}).model_copy(update={"batch_size": 8})
    out = fit(auto, _estimate, budget_gb=1.2, p95=300)
    r = out.recipe
    assert out.fits and r.batch_size * r.grad_accum == 16  # the effective batch stays
    assert r.batch_size == 1 and r.gradient_checkpointing == "on" and 300 <= r.max_seq_length < 1024
    text = " ".join(out.changes)
    assert "batch_size 8 → 1" in text and "grad_accum 2 → 16" in text and "checkpointing on" in text
    assert "max_seq_length 1024 →" in text and "95th percentile is 300" in text


def test_length_goes_below_the_95th_percentile_only_when_nothing_else_fits():
    r = TrainRecipe.parse({"gradient_checkpointing": "off"}).model_copy(update={"batch_size": 1})
    out = fit(r, _estimate, budget_gb=1.2, p95=900)
    assert out.fits and out.recipe.max_seq_length < 900 and "below the data's 95th percentile" in out.changes[-1]


def test_values_the_user_set_are_never_changed():
    pinned = TrainRecipe(batch_size=64, max_seq_length=4096, gradient_checkpointing="off")
    out = fit(pinned, _estimate, budget_gb=3.0, p95=300)
    assert not out.fits and out.recipe == pinned and out.changes == []
    err = refusal(pinned, out, 4.0, _estimate, 300)
    assert isinstance(err, LabError) and err.field == "batch_size"
    assert "needs an estimated 263.1 GB" in err.what and "4.0 GB is free" in err.what
    assert "set by you" in err.what and "would fit" in err.fix and "--force" in err.fix


def test_fitting_stops_at_what_fits():
    r = TrainRecipe.parse({}).model_copy(update={"batch_size": 4})
    out = fit(r, _estimate, budget_gb=3.5, p95=300)
    assert out.recipe.batch_size == 2 and out.recipe.max_seq_length == 1024 and out.fits


def test_a_huge_explicit_run_is_refused_before_anything_loads(bundled_model, alpaca_path, monkeypatch):
    """Batch 512 with sequence 8192 on this machine: refused with the estimate and what would fit."""
    import transformers

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained",
                        lambda *a, **k: pytest.fail("weights loaded before the refusal"))
    recipe = TrainRecipe(model=str(bundled_model), dataset=str(alpaca_path), batch_size=512, max_seq_length=8192,
                         max_rows=600)
    with pytest.raises(LabError) as err:
        preflight.check(recipe, CPU, free=20.0)
    text = str(err.value)
    assert "needs an estimated" in text and "20.0 GB is free" in text and "would fit" in text
    forced = preflight.check(recipe.model_copy(update={"run_anyway": True}), CPU, free=20.0)
    assert forced.recipe.batch_size == 512 and any("Run anyway" in w for w in forced.warnings)


def test_defaults_are_fitted_and_the_report_says_so(bundled_model, dpo_path):
    """The CLI's default DPO (batch 4 × 1024 on long preference rows) on a machine with 8 GB free."""
    recipe = TrainRecipe.parse({"method": "dpo", "model": str(bundled_model), "dataset": str(dpo_path),
                                "max_steps": 4})
    pre = preflight.check(recipe, CPU, free=8.0)
    r, mem = pre.recipe, pre.memory
    assert r.batch_size * r.grad_accum == 4 and mem["total_gb"] <= 0.75 * 8.0
    assert mem["changes"] and "batch_size 4 →" in " ".join(mem["changes"])
    assert mem["lengths"]["p95"] > 1024 and mem["batch"]["sequences"] == 2 * r.batch_size


def test_memory_limit_settings(monkeypatch, bundled_model, alpaca_path):
    from lab import settings

    monkeypatch.setenv("LAB_MEMORY_LIMIT_GB", "abc")
    settings.reset_caches()
    with pytest.raises(LabError) as err:
        settings.get_settings()
    assert err.value.field == "LAB_MEMORY_LIMIT_GB" and "gigabytes" in str(err.value)
    monkeypatch.setenv("LAB_MEMORY_LIMIT_GB", "0.3")  # below the model's own weights and the process
    settings.reset_caches()
    with pytest.raises(LabError) as err:
        preflight.check(TrainRecipe(model=str(bundled_model), dataset=str(alpaca_path), max_rows=8), CPU, free=20)
    assert err.value.field == "LAB_MEMORY_LIMIT_GB" and "below what the model itself takes" in str(err.value)
