"""ORPO's plumbing, without training: its recipe (flat and nested), the form, the CLI, the pre-launch check with
its memory estimate and loss mask, and the `trl` command printer (TRL's CLI has no `trl orpo`)."""
import json

import pytest
import yaml

from lab.errors import LabError
from lab.hardware import Gpu, Hardware, set_hardware
from lab.train import preflight
from lab.train.build import trl_command
from lab.train.recipe import TrainRecipe, describe

CPU = Hardware(ram_gb=24, bnb_ok=True, cpu_count=2)


def _pairs(tmp_path, n=8):
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"Name a fruit ({i}).", "chosen": "An apple.",
                                        "rejected": "A chair, I think."}) + "\n" for i in range(n)))
    return path


def test_recipe_flat_and_nested():
    flat = TrainRecipe.parse({"method": "orpo", "orpo_beta": 0.25, "dataset": "me/prefs"})
    assert flat.method.name == "orpo" and flat.method.beta == 0.25
    nested = yaml.safe_load(flat.to_yaml())["method"]
    assert nested == {"name": "orpo", "beta": 0.25}
    assert TrainRecipe.from_yaml(flat.to_yaml()) == flat and flat.flat()["orpo_beta"] == 0.25
    assert "ORPO" in describe("method") and "λ" in describe("orpo_beta")
    with pytest.raises(LabError) as err:
        TrainRecipe.parse({"method": "orpo", "orpo_beta": 0})
    assert err.value.field == "orpo_beta"
    with pytest.raises(LabError) as err:
        TrainRecipe.parse({"method": {"name": "orpo", "beta": 0}})
    assert err.value.field == "method.beta"
    with pytest.raises(LabError) as err:
        TrainRecipe.parse({"method": "orpo", "packing": True})  # only SFT packs rows
    assert err.value.field == "packing"


def test_form_offers_orpo_and_round_trips():
    from lab.train import panel
    from lab.ui.train_tab import GROUPS

    assert "orpo" in panel.field_kind("method")[1]
    assert any("orpo_beta" in names for _, names in GROUPS) and "orpo_beta" in panel.FIELDS
    values = panel.form_from_recipe(TrainRecipe(method="orpo", orpo_beta=0.3))
    assert values["method"] == "orpo" and values["orpo_beta"] == 0.3 and values["dpo_beta"] == 0.1
    assert panel.recipe_from_form(values) == TrainRecipe(method="orpo", orpo_beta=0.3)


def test_cli_flags_and_trl_command(tmp_path, capsys):
    from lab.__main__ import build_parser, main
    from lab.train.cli import recipe_from_args

    set_hardware(CPU)
    args = build_parser().parse_args(["train", "--method", "orpo", "--orpo-beta", "0.3", "--model", "m/x",
                                      "--dataset", "d/y"])
    r = recipe_from_args(args)
    assert (r.method.name, r.method.beta, r.model) == ("orpo", 0.3, "m/x")
    path = tmp_path / "r.yaml"
    path.write_text(r.to_yaml())
    assert main(["train", str(path), "--max-steps", "3", "--trl-command"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# ") and "no `trl orpo`" in out and "python -m lab train" in out
    assert trl_command(r).startswith("# ")


def test_preflight_memory_and_mask(bundled_model, tmp_path):
    from lab.train import panel

    pairs = _pairs(tmp_path)
    r = TrainRecipe(method="orpo", model=str(bundled_model), dataset=str(pairs), adapter="full")
    pre = preflight.check(r, CPU)
    assert pre.kind == "preference" and pre.memory["batch"]["sequences"] == 2 * r.batch_size  # chosen, rejected
    assert "reference model" not in pre.memory["parts_gb"]  # ORPO needs none, even for a full fine-tune
    dpo = preflight.check(r.updated(method="dpo"), CPU)
    assert dpo.memory["parts_gb"]["reference model"] > 0  # the test can fail: DPO keeps one
    out = panel.check(r.updated(adapter="lora", max_rows=4))
    assert out["trl_command"].startswith("# ") and "**Loss mask:**" in out["markdown"]
    assert [text for text, _ in out["preview"][:1]] == ["CHOSEN ▸ "]  # chosen then rejected, as for DPO
    sft = tmp_path / "sft.jsonl"
    sft.write_text(json.dumps({"prompt": "hi", "completion": "hello"}) + "\n")
    with pytest.raises(LabError) as err:
        preflight.check(r.updated(dataset=str(sft)), CPU)
    assert err.value.field == "dataset" and "preference" in str(err.value)


def test_card_tags_and_job_kind():
    from lab.jobs import get_kind
    from lab.train import KINDS
    from lab.train.finish import _tags

    assert KINDS["orpo"] == "train.orpo" and get_kind("train.orpo").label == "Train (ORPO)"
    assert _tags(TrainRecipe(method="orpo", adapter="qlora")) == ["trl", "orpo", "qlora", "lora"]


def test_a_gpu_plan_still_has_no_trl_command():
    set_hardware(Hardware(gpus=(Gpu("NVIDIA A10G", 22.0, (8, 6)),), bnb_ok=True))
    assert trl_command(TrainRecipe(method="orpo", dataset="me/prefs")).startswith("# ")
    set_hardware(None)
