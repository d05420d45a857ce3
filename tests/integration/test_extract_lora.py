"""`python -m lab extract-lora` on a real full fine-tune delta of the bundled SmolLM2: the adapter loads with PEFT and
gives the fine-tune's logits; a base that is not the model's base is refused, naming the first mismatch. As an
`extract.lora` job (its own worker), the adapter on its base is scored against the full model on a real task by the
Evaluate engine, and both scores reach the result and the card; an unknown task is refused before any work."""
import json
import shutil

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from lab.__main__ import main
from lab.access import local
from lab.artifacts import read_manifest
from lab.extract import job as extract_job
from lab.jobs import manager
from tests.eval_support import MC_ROWS, write_jsonl

CHANGED = [f"model.layers.{i}.{m}" for i in (0, 3, 7) for m in ("self_attn.q_proj", "self_attn.v_proj",
                                                                 "mlp.down_proj")]


@pytest.fixture(scope="module")
def finetune(bundled_model, tmp_path_factory):
    """A 'full fine-tune': the bundled model with a rank-4 change in 9 linear layers, saved as safetensors."""
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(bundled_model, dtype=torch.float32)
    with torch.no_grad():
        for name in CHANGED:
            w = model.get_submodule(name).weight
            w += 0.3 * (torch.randn(w.shape[0], 4) @ torch.randn(4, w.shape[1])) / w.shape[1] ** 0.5
    out = tmp_path_factory.mktemp("finetune") / "smol-ft"
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(bundled_model).save_pretrained(out)
    return out


def _logits(model, tok):
    ids = tok("The lab extracts adapters from fine-tunes.", return_tensors="pt").input_ids
    with torch.no_grad():
        return model(ids).logits[0]


def _run(capsys, *argv) -> dict:
    assert main(["extract-lora", *map(str, argv)]) == 0
    return json.loads(capsys.readouterr().out)


def test_an_extracted_adapter_reproduces_the_finetune(finetune, bundled_model, capsys, tmp_path):
    out = _run(capsys, finetune, "--base", bundled_model, "--rank", 8, "--out", tmp_path / "ad")
    assert out["layers"] == len(CHANGED) and out["rank"] == 4  # the delta's true rank: nothing more to keep
    assert out["relative_error"] < 1e-4 and out["not_carried"] == []
    tok = AutoTokenizer.from_pretrained(bundled_model)
    full = _logits(AutoModelForCausalLM.from_pretrained(finetune, dtype=torch.float32), tok)
    base = AutoModelForCausalLM.from_pretrained(bundled_model, dtype=torch.float32)
    plain = _logits(base, tok)
    adapted = _logits(PeftModel.from_pretrained(base, tmp_path / "ad").eval(), tok)
    assert (full - plain).abs().max() > 0.5  # the fine-tune really differs from its base
    assert (adapted - full).abs().max() < 1e-2
    manifest = read_manifest(tmp_path / "ad")
    assert manifest["kind"] == "adapter" and len(manifest["parents"]) == 2
    assert manifest["metrics"]["relative_error"] == out["relative_error"]
    assert (tmp_path / "ad" / "tokenizer_config.json").is_file() and (tmp_path / "ad" / "README.md").is_file()


def test_energy_keeps_fewer_directions_and_still_loads(finetune, bundled_model, capsys, tmp_path):
    out = _run(capsys, finetune, "--base", bundled_model, "--energy", 0.6, "--out", tmp_path / "ad")
    assert out["mean_rank"] < 4 and 0 < out["relative_error"] < 0.7
    base = AutoModelForCausalLM.from_pretrained(bundled_model, dtype=torch.float32)
    peft = PeftModel.from_pretrained(base, tmp_path / "ad")
    cfg = json.loads((tmp_path / "ad" / "adapter_config.json").read_text())
    for name in CHANGED:  # each layer at its own rank (rank_pattern), as written
        assert peft.base_model.model.get_submodule(name).lora_A["default"].weight.shape[0] == cfg["rank_pattern"].get(
            name.replace(".", "\\."), cfg["r"])
    assert main(["extract-lora", str(finetune), "--base", str(bundled_model), "--rank", "2",
                 "--out", str(tmp_path / "ad")]) == 2  # nothing is overwritten
    assert "not empty" in capsys.readouterr().err


def test_a_base_that_is_not_the_models_base_is_refused_first(finetune, tmp_path, capsys):
    other = tmp_path / "other-base"
    other.mkdir()
    weights = load_file(str(finetune / "model.safetensors"))
    weights["model.layers.2.mlp.up_proj.weight"] = weights["model.layers.2.mlp.up_proj.weight"][:100].clone()
    save_file(weights, str(other / "model.safetensors"), metadata={"format": "pt"})
    shutil.copy(finetune / "config.json", other / "config.json")
    assert main(["extract-lora", str(finetune), "--base", str(other), "--rank", "8",
                 "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err
    assert "model.layers.2.mlp.up_proj.weight" in err and "not this model's base" in err
    assert not (tmp_path / "never").exists()


def test_the_job_scores_the_adapter_on_its_base_against_the_full_model(finetune, bundled_model, tmp_path):
    quiz = write_jsonl(tmp_path / "quiz.jsonl", MC_ROWS)
    job = extract_job.start({"model": str(finetune), "base": str(bundled_model), "rank": 8, "eval_task": str(quiz),
                             "eval_limit": 2, "name": "ft-lora"}, local())
    job = manager.wait(job.id, timeout=600)
    assert job.state == "succeeded", job.error
    shown = extract_job.status(job.id)
    result, scores = shown["result"], shown["result"]["eval"]
    assert shown["out"] == str(job.folder) and job.folder.name == "ft-lora" and result["relative_error"] < 1e-4
    assert scores["task"] == str(quiz) and scores["limit"] == 2 and 0 <= scores["full"] <= 1
    assert scores["adapter"] == scores["full"] and scores["difference"] == 0  # the adapter is the fine-tune's delta
    assert "relative error" in shown["message"] and scores["adapter"] == scores["full"]
    manifest = read_manifest(job.folder)
    assert manifest["metrics"]["score_full"] == scores["full"] and manifest["metrics"]["score_difference"] == 0
    assert [e["task"] for e in manifest["evaluations"]] == ["quiz"]  # recorded like any evaluation
    card = (job.folder / "README.md").read_text()
    assert f"the full model {scores['full']:.4f}" in card and "## Evaluation" in card
    assert "`quiz.jsonl`" in card and str(tmp_path) not in card  # the task by its name, no server path
    assert "difference **+0.0000**" in extract_job.describe(result)


def test_an_unknown_task_is_refused_before_any_work(finetune, bundled_model, tmp_path, capsys):
    assert main(["extract-lora", str(finetune), "--base", str(bundled_model), "--rank", "8", "--eval-task",
                 "no_such_task_anywhere", "--out", str(tmp_path / "never")]) == 2
    assert "eval_task" in capsys.readouterr().err and not (tmp_path / "never").exists()
