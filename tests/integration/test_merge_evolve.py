"""Evolve a merge for real: CMA-ES over the weights of a linear merge of two tiny fine-tunes (a 2-layer Llama with
SmolLM2's tokenizer, and two perturbed copies), each candidate merged by mergekit and scored by lm-eval on a
multiple-choice task the test writes. The best is at least as fit as the better parent, a held-out task is scored,
the cache saves candidates; models of another vocabulary are refused by the preflight before any candidate."""
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from lab.errors import LabError
from lab.merge import evolve_job
from lab.merge.evolve import check
from lab.merge.evolve_recipe import EvolveRecipe
from tests.eval_support import MC_ROWS, write_jsonl
from tests.merge_support import tiny_model, write_config_model

pytestmark = pytest.mark.slow

HELD_OUT = [{"question": "Which animal barks?", "choices": ["Dog", "Cat", "Fish"], "answer": 0},
            {"question": "What color is snow?", "choices": ["Black", "Green", "White"], "answer": 2}]


@pytest.fixture(scope="module")
def parents(tmp_path_factory, bundled_model):
    root = tmp_path_factory.mktemp("evolve")
    base = tiny_model(root / "base", bundled_model, seed=0)
    return {"ft1": tiny_model(root / "ft1", bundled_model, 1, like=base, noise=0.2),
            "ft2": tiny_model(root / "ft2", bundled_model, 2, like=base, noise=0.2), "root": root}


def _cli(*args):  # LAB_HOME: the test's (conftest's lab_home), inherited
    return subprocess.run([sys.executable, "-m", "lab", "merge", "evolve", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=900)


def test_evolve_job_finds_a_merge_at_least_as_fit_as_the_better_parent(parents, tmp_path, lab_home):
    fitness = write_jsonl(tmp_path / "quiz.jsonl", MC_ROWS)
    held = write_jsonl(tmp_path / "held.jsonl", HELD_OUT)
    config = tmp_path / "evolve.yaml"
    config.write_text(yaml.safe_dump({"models": [str(parents["ft1"]), str(parents["ft2"])], "method": "linear",
                                      "fitness": [str(fitness)], "held_out": [str(held)], "population": 3,
                                      "candidates": 6, "dtype": "float32", "seed": 0}))
    out = tmp_path / "best"
    proc = _cli(str(config), "--out", str(out), "--job")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    best, parent_scores = result["best"], result["parents"]
    assert set(parent_scores) == {str(parents["ft1"]), str(parents["ft2"])}
    assert best["fitness"] >= max(s["fitness"] for s in parent_scores.values())
    assert best["recipe"]["merge_method"] == "linear" and len(best["recipe"]["models"]) == 2
    assert result["held_out"] and result["held_out_mean"] is not None
    assert result["candidates"] == 6 and len(result["generations"]) >= 2
    # generation 0 holds each parent alone: the same weights as the parents scored up front, so not scored again
    assert result["candidates"] == result["scored"] + result["cache_saved"]
    assert result["cache_hits"]["eval"] >= 2 and result["cache_saved"] >= 2
    assert (out / "model.safetensors").is_file() and (out / "lab.json").is_file()
    card = (out / "README.md").read_text()
    assert "## Evolutionary search" in card and "Contamination against the fitness task" in card
    assert not (out / "search" / "candidates").exists()  # only the best merge was kept
    # the job's live state, as the Merge tab's Evolve panel shows it: one plot row per generation, the best recipe
    job_id = re.search(r"Job (\S+) started", proc.stderr).group(1)
    shown = evolve_job.status(job_id)
    assert shown["state"] == "succeeded" and shown["out"] == str(out)
    assert [r["best"] for r in shown["generations"]] == [g["best"] for g in result["generations"]]
    assert "linear" in shown["best_recipe"]


def test_models_of_another_vocabulary_are_refused_before_any_candidate(parents, tmp_path, lab_home):
    other = write_config_model(tmp_path / "other", layers=2, hidden=64, vocab=32000, heads=4, kv=2)
    quiz = write_jsonl(tmp_path / "quiz.jsonl", MC_ROWS)
    config = tmp_path / "evolve.yaml"
    config.write_text(yaml.safe_dump({"models": [str(parents["ft1"]), str(other)], "method": "linear",
                                      "fitness": [str(quiz)]}))
    proc = _cli(str(config), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "vocab" in proc.stderr.lower() and not (tmp_path / "out").exists()
    assert not (lab_home / "evals").exists()  # nothing was scored


def test_a_fitness_task_too_large_for_the_time_budget_is_refused_by_the_estimate(parents, tmp_path):
    rows = [{"question": f"Question {i}?", "choices": ["a", "b", "c"], "answer": 0} for i in range(400)]
    recipe = EvolveRecipe.parse({"models": [str(parents["ft1"]), str(parents["ft2"])],
                                 "fitness": [str(write_jsonl(tmp_path / "big.jsonl", rows))], "time_s": 5})
    with pytest.raises(LabError) as err:
        check(recipe, tmp_path / "out", None)
    assert err.value.field == "fitness" and "budget of 5 s" in err.value.what
    assert check(recipe.model_copy(update={"time_s": None}), tmp_path / "out", None)["seconds_per_candidate"] > 1
