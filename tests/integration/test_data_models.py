"""Data steps that run real models on CPU: semantic dedup and clusters (all-MiniLM-L6-v2), the local judge
(the bundled SmolLM2), and a run as a background job."""
import json

import pyarrow.parquet as pq
import pytest

from lab.data import embed
from lab.data.explore import explore, map_figure
from lab.data.pipeline import run
from lab.data.recipe import FilterRecipe
from tests.unit.data_fixtures import TOPICS, write_alpaca

PROMPTS = [f"How do I get started with {t}?" for t in TOPICS[:8]] + [
    "HOW DO I GET STARTED WITH BAKING BREAD?",  # the same words, shouting
    "How can I begin baking bread at home?",  # a paraphrase
    "What is the capital of France?"]


def _write(path, prompts):
    path.write_text("\n".join(json.dumps({"instruction": p, "output": f"Answer {i}."})
                              for i, p in enumerate(prompts)) + "\n")
    return path


def _recipe(path, *steps):
    return FilterRecipe.parse({"sources": [{"path": str(path)}], "steps": list(steps)})


def test_semantic_dedup_removes_close_prompts_and_caches_vectors(tmp_path, monkeypatch):
    path = _write(tmp_path / "p.jsonl", PROMPTS)
    result = run(_recipe(path, {"type": "semantic_dedup", "threshold": 0.9}), log=lambda m: None)
    removed = {r["row"]: r for r in result.removed}
    assert 8 in removed and removed[8]["dup_of"] == 0 and removed[8]["value"] > 0.99
    assert 10 not in removed and set(removed) <= {8, 9}
    monkeypatch.setattr(embed, "_MODELS", {})
    monkeypatch.setattr(embed, "load_model", lambda *a: (_ for _ in ()).throw(AssertionError("re-encoded")))
    again = run(_recipe(path, {"type": "semantic_dedup", "threshold": 0.9}), log=lambda m: None)
    assert again.records() == result.records()  # from the cache, without loading the model


def test_explore_and_drop_a_cluster(tmp_path):
    path, _ = write_alpaca(tmp_path / "a.jsonl")
    base = run(_recipe(path, {"type": "exact_dedup"}), log=lambda m: None)
    texts = [base.table.texts("prompt")[i] for i in base.kept]
    ex = explore(texts, k=3, seed=0)
    sizes = ex.sizes()
    assert sum(s[2] for s in sizes) == len(texts) and all(s[1] for s in sizes)
    assert ex.method == "PCA" and ex.xy.shape == (len(texts), 2)
    assert len(map_figure(ex).data) == len(sizes)
    victim = sizes[0][0]
    dropped = run(_recipe(path, {"type": "exact_dedup"}, {"type": "clusters", "k": 3, "seed": 0,
                                                          "drop": [victim]}), log=lambda m: None)
    gone = sorted(r["row"] for r in dropped.removed if r["reason"] == "dropped cluster")
    assert gone == sorted(base.kept[ex.members(victim)].tolist())
    density = explore(texts, k=3, seed=0, method="hdbscan")  # finds its own number of clusters (-1: noise)
    assert len(density.labels) == len(texts) and density.labels.min() >= -1
    assert sum(s[2] for s in density.sizes()) == len(texts)


def test_local_judge_with_the_bundled_model_never_crashes(tmp_path, bundled_model):
    path = _write(tmp_path / "p.jsonl", PROMPTS[:2])
    result = run(_recipe(path, {"type": "judge", "model": str(bundled_model), "max_new_tokens": 6}),
                 log=lambda m: None)
    scores = [r["judge_score"] for r in result.records()]
    assert len(scores) + len(result.removed) == 2
    assert all(s is None or 1 <= s <= 5 for s in scores)


def test_a_data_job_saves_the_artifact(tmp_path):
    from lab.data import submit_run
    from lab.jobs.manager import wait

    path, expected = write_alpaca(tmp_path / "a.jsonl")
    job = submit_run(_recipe(path, {"type": "exact_dedup"}, {"type": "refusals", "phrases": ["as an AI"]}))
    job = wait(job.id, timeout=180)
    assert job.state == "succeeded", job.error
    assert job.progress == pytest.approx(1.0)
    rows = pq.read_table(job.folder / "data.parquet").to_pylist()
    assert len(rows) == expected["kept"]
    manifest = json.loads((job.folder / "lab.json").read_text())
    assert manifest["kind"] == "dataset" and manifest["metrics"]["rows_out"] == expected["kept"]
    assert manifest["metrics"]["1. Exact dedup"] == f"{expected['rows']} → {expected['rows'] - 4}"
    assert not (job.folder / "metrics.jsonl").exists()  # it would be published as a second data file
