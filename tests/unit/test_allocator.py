"""The worker's malloc: glibc (fast) unless memory is tight, then jemalloc (lean), switched in the same process."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lab.hardware import Hardware
from lab.jobs import allocator, manager
from lab.train import memory, preflight
from lab.train.recipe import TrainRecipe

CPU = Hardware(ram_gb=24, bnb_ok=True, cpu_count=2)


def test_workers_start_on_the_allocator_of_their_kind(monkeypatch):
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    env = manager.worker_env(None, "train.kto")
    assert env[allocator.MARK] == "glibc" and "LD_PRELOAD" not in env  # switches itself when memory is tight
    lib = allocator.jemalloc()
    other = manager.worker_env(None, "merge")
    if lib:
        assert other["LD_PRELOAD"] == lib and "dirty_decay_ms" in other["MALLOC_CONF"]
        back = allocator.allocator_env(other, "glibc")  # the lab's own choice is replaced, not stacked
        assert "LD_PRELOAD" not in back and "MALLOC_CONF" not in back and allocator.current(back) == "glibc"
    assert allocator.allocator_env({"LD_PRELOAD": "/x.so"}, "glibc") == {"LD_PRELOAD": "/x.so"}  # the user's own
    monkeypatch.setenv("LD_PRELOAD", "/x.so")
    assert allocator.choices() == ("glibc",)  # a user's preload: never changed


def _check(bundled_model, alpaca_path, free: float):
    recipe = TrainRecipe.parse({"model": str(bundled_model), "dataset": str(alpaca_path), "max_rows": 64,
                                "max_seq_length": 512})
    return preflight.check(recipe, CPU, free=free)


def test_preflight_picks_glibc_when_it_fits_and_jemalloc_before_lowering_anything(bundled_model, alpaca_path,
                                                                                monkeypatch):
    monkeypatch.setattr(allocator, "choices", lambda: ("glibc", "jemalloc"))
    roomy = _check(bundled_model, alpaca_path, 100.0)
    assert roomy.memory["allocator"] == "glibc" and not roomy.memory["changes"]
    glibc_gb = roomy.memory["total_gb"]
    transient = sum(roomy.memory["parts_gb"].get(k, 0) for k in memory.TRANSIENT)
    jemalloc_gb = glibc_gb - 0.25 * transient  # glibc's slack is on what each step makes and frees
    between = (glibc_gb + jemalloc_gb) / 2 / 0.75  # a budget only jemalloc fits as asked
    tight = _check(bundled_model, alpaca_path, between)
    assert tight.memory["allocator"] == "jemalloc" and tight.recipe.batch_size == roomy.recipe.batch_size
    assert "jemalloc" in tight.memory["changes"][0] and f"{glibc_gb:.1f} GB" in tight.memory["changes"][0]
    assert tight.memory["total_gb"] == pytest.approx(jemalloc_gb, abs=0.02)
    tighter = _check(bundled_model, alpaca_path, jemalloc_gb * 0.9 / 0.75)  # then the batch comes down, and
    assert tighter.recipe.batch_size < roomy.recipe.batch_size  # the lower batch fits on glibc too: the faster
    assert tighter.memory["allocator"] == "glibc" and not any("jemalloc" in c for c in tighter.memory["changes"])
    monkeypatch.setattr(allocator, "choices", lambda: ("glibc",))  # no jemalloc installed: the batch instead
    assert _check(bundled_model, alpaca_path, between).recipe.batch_size < roomy.recipe.batch_size


SWITCH = """
import os, sys
from lab.jobs import allocator
print("start", os.getpid(), allocator.current(), flush=True)
allocator.switch_to("jemalloc", log=lambda m: print(m, flush=True))
allocator.switch_to("glibc", log=lambda m: print(m, flush=True))  # once only: no loop between the two
print("now", os.getpid(), allocator.current(), os.environ.get("LD_PRELOAD", ""), flush=True)
"""


@pytest.mark.skipif(allocator.jemalloc() is None, reason="jemalloc is not installed (setup.sh installs it)")
def test_a_worker_switches_to_jemalloc_in_the_same_process():
    env = allocator.allocator_env({**os.environ, "PYTHONPATH": os.getcwd()}, "glibc")
    env.pop("LD_PRELOAD", None)
    out = subprocess.run([sys.executable, "-c", SWITCH], env=env, capture_output=True, text=True, timeout=60)
    lines = out.stdout.splitlines()
    assert out.returncode == 0, out.stderr
    pid = lines[0].split()[1]
    assert lines[0] == f"start {pid} glibc" and "restarts itself on jemalloc" in lines[1]
    assert lines[2] == f"start {pid} jemalloc"  # the same pid: the watchdog and the job record still hold
    assert lines[3] == f"now {pid} jemalloc {allocator.jemalloc()}" and len(lines) == 4


def test_a_process_the_lab_did_not_start_never_switches(monkeypatch):
    monkeypatch.delenv(allocator.MARK, raising=False)
    monkeypatch.setattr(os, "execve", lambda *a: pytest.fail("pytest itself would have been replaced"))
    allocator.switch_to("jemalloc")


def test_glibc_stays_when_jemalloc_would_need_the_same_changes(monkeypatch):
    """A stand-in estimate: 1 GB plus 1 GB per sequence, glibc's heaps 1.25× of it."""
    monkeypatch.setattr(allocator, "choices", lambda: ("glibc", "jemalloc"))
    total_on = lambda alloc: lambda r: (1.0 + r.batch_size) * (1.25 if alloc == "glibc" else 1.0)  # noqa: E731
    recipe = TrainRecipe.parse({}).model_copy(update={"batch_size": 8})  # the batch is the lab's to lower
    alloc, out = preflight._fit_allocator(recipe, total_on, 3.0, 300, "cpu")
    assert alloc == "jemalloc" and out.recipe.batch_size == 2  # glibc would need batch 1
    assert "jemalloc" in out.changes[0]
    alloc, out = preflight._fit_allocator(recipe, total_on, 2.6, 300, "cpu")
    assert alloc == "glibc" and out.recipe.batch_size == 1  # batch 1 on both: the faster one
    assert not any("jemalloc" in c for c in out.changes)
    pinned = recipe.model_copy(update={"auto_fit": []})
    alloc, out = preflight._fit_allocator(pinned, total_on, 2.6, 300, "cpu")
    assert alloc == "jemalloc" and not out.fits  # fits nowhere (run anyway): the leaner one
    assert preflight._fit_allocator(recipe, total_on, 2.6, 300, "cuda")[0] == "glibc"
