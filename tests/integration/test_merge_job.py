"""The merge as a job and from the CLI; failed and cancelled merges leave no partial model behind."""
from __future__ import annotations

import json
import shutil

import pytest

from lab.errors import LabError
from lab.jobs.context import JobCancelled
from lab.merge.worker import MergeOptions, merge
from tests.merge_support import BASE_ID, finetuned_model  # noqa: F401


def _linear(ft) -> str:
    return (f"models:\n  - model: {BASE_ID}\n    parameters: {{weight: 0.5}}\n  - model: {ft}\n"
            f"    parameters: {{weight: 0.5}}\nmerge_method: linear\n")


def test_merge_runs_as_a_job_with_progress_and_an_artifact(finetuned_model, lab_home):
    import lab.merge  # noqa: F401  registers the kind
    from lab.artifacts import list_artifacts, new_folder
    from lab.jobs import get_job, submit
    from lab.jobs.manager import wait

    text = _linear(finetuned_model)
    folder = new_folder("merge", "job-merge")
    job = submit("merge", {"source": text, "options": {"random_seed": 1}}, title="Merge (linear)",
                 artifact_dir=folder)
    job = wait(job.id, timeout=600)
    assert job.state == "succeeded", job.error + job.log_path.read_text()[-2000:]
    assert get_job(job.id).progress == 1.0
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    result = json.loads((folder / "merge_result.json").read_text())
    assert result["method"] == "linear" and result["layers"] == 30 and result["params"] > 130e6
    log = job.log_path.read_text()
    assert "Merged linear" in log and "Executing graph" not in log  # progress went to the job record, not bars
    arts = {a["name"]: a for a in list_artifacts()}
    assert arts["job-merge"]["kind"] == "merge" and arts["job-merge"]["merge_method"] == "linear"
    assert not list(lab_home.glob("artifacts/.*partial"))


@pytest.fixture
def every_bar_update(monkeypatch):
    """Progress on every bar update, not once a second: where the merge stopped must not depend on speed."""
    import functools

    import lab.merge.worker as worker
    monkeypatch.setattr(worker, "report_progress", functools.partial(worker.report_progress, every_s=0.0))


@pytest.fixture
def broken_model(finetuned_model, tmp_path):
    """The fine-tune with one late tensor of the wrong shape: configs look fine, the merge fails midway."""
    import torch
    from safetensors.torch import load_file, save_file

    out = tmp_path / "broken"
    out.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (finetuned_model / name).is_file():
            shutil.copy(finetuned_model / name, out / name)
    tensors = load_file(finetuned_model / "model.safetensors")
    tensors["model.layers.29.mlp.down_proj.weight"] = torch.zeros(576, 100, dtype=torch.bfloat16)
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    return out


def test_a_failed_merge_leaves_nothing_behind(broken_model, tmp_path, every_bar_update):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    seen = []
    # small shards, so mergekit has already written many files when it reaches the bad tensor
    with pytest.raises(Exception, match="down_proj"):
        merge(_linear(broken_model), outputs / "never", MergeOptions(out_shard_size=2_000_000), log=lambda m: None,
              progress=lambda f, m="": seen.append(f))
    assert max(seen) > 0.1  # it failed midway through the graph (past the 0.05 warm-up), not at the start
    assert list(outputs.iterdir()) == []


def test_a_cancelled_merge_leaves_nothing_behind(finetuned_model, tmp_path, every_bar_update):
    seen = []

    def progress(fraction, message=""):
        seen.append(fraction)
        if fraction > 0.4:  # what SIGTERM does in a job: an exception in the middle of mergekit's loop
            raise JobCancelled("cancelled by the user")

    outputs = tmp_path / "outputs"
    outputs.mkdir()
    with pytest.raises(JobCancelled):
        merge(_linear(finetuned_model), outputs / "cancelled", MergeOptions(out_shard_size=2_000_000),
              log=lambda m: None, progress=progress)
    assert 0.4 < max(seen) < 0.95 and list(outputs.iterdir()) == []


def test_cli_preflight_and_refusals(finetuned_model, tmp_path, capsys):
    from lab.__main__ import main

    cfg = tmp_path / "linear.yaml"
    cfg.write_text(_linear(finetuned_model))
    assert main(["merge", str(cfg), "--preflight"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["out_layers"] == 30 and len(report["models"]) == 2
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "something").write_text("x")
    assert main(["merge", str(cfg), "--out", str(tmp_path / "taken")]) == 2
    assert "already exists" in capsys.readouterr().err
    cfg.write_text("merge_method: ties\nmodels: [{model: a, parameters: {weight: 1}}]\n")
    assert main(["merge", str(cfg), "--out", str(tmp_path / "x")]) == 2
    assert "base_model" in capsys.readouterr().err and not (tmp_path / "x").exists()
    with pytest.raises(LabError):
        merge("merge_method: linear\nmodels: [{model: a}]", tmp_path / "y")



@pytest.mark.gpu
def test_merges_do_their_arithmetic_on_the_gpu_when_there_is_one(finetuned_model, tmp_path):
    from lab.merge.worker import mergekit_options

    opts = mergekit_options(MergeOptions())
    assert opts.cuda and opts.device == "cuda" and not opts.low_cpu_memory
    result = merge(_linear(finetuned_model), tmp_path / "gpu", log=lambda m: None)
    assert result["layers"] == 30 and result["params"] > 130e6


@pytest.mark.slow  # ~30 s: two merge workers start
def test_a_failed_merge_job_keeps_its_log_and_its_name_can_be_used_again(bundled_model, lab_home, tmp_path):
    from lab.jobs.manager import cancel, wait
    from lab.merge import editor
    from tests.hub_helpers import link_tree

    model = tmp_path / "vanishing"
    link_tree(bundled_model, model)
    text = f"merge_method: passthrough\nslices:\n  - sources:\n      - model: {model}\n        layer_range: [0, 2]\n"
    job = editor.start(text, "retry-me")
    shutil.rmtree(model)  # gone before the worker reaches it (it checks again): the job fails
    failed = wait(job.id, timeout=300)
    assert failed.state == "failed"
    assert "=== job" in failed.log_path.read_text() and failed.log_path.parent != failed.folder  # the log stays
    assert not (lab_home / "artifacts" / "retry-me").exists()  # no empty artifact left in the way
    link_tree(bundled_model, model)
    again = editor.start(text, "retry-me")  # the same name again
    assert again.state in ("queued", "running") and again.folder == failed.folder
    cancel(again.id)
    assert wait(again.id, timeout=300).state == "cancelled"
