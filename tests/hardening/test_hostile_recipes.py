"""Hostile recipes get a validation error naming the field, through the same entry points a user calls
(`python -m lab …` and the recipe loaders the UI uses), before any model is resolved, downloaded or loaded."""
from __future__ import annotations

import pytest
import yaml

from lab import jobs
from lab.errors import LabError


def billion_laughs(levels: int = 9) -> str:
    """Nine levels of nine aliases: 9**9 strings once expanded. The anchors sit in top-level keys, so a loader
    that accepted aliases would fail here fast with another message instead of hanging."""
    lines = ["lol0: &lol0 [" + ", ".join(['"lol"'] * 9) + "]"]
    lines += [f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _cli(args: list[str], capsys) -> tuple[int, str]:
    from lab.__main__ import main

    code = main(args)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("command,field", [
    (["train", "{path}"], "recipe"),
    (["merge", "{path}"], "yaml"),
    (["data", "run", "{path}", "--out", "{out}"], "recipe"),
])
def test_yaml_bombs_are_refused_by_every_recipe_loader(command, field, tmp_path, load_spy, capsys):
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    code, err = _cli([a.format(path=path, out=tmp_path / "out.jsonl") for a in command], capsys)
    assert code == 2 and f"error: {field}: YAML aliases are not allowed" in err, err
    assert load_spy.nothing_loaded() and jobs.list_jobs() == []
    from lab.chat.spec import ChatSpec  # chat settings have a YAML form too (no CLI reads it)

    with pytest.raises(LabError, match="aliases are not allowed"):
        ChatSpec.from_yaml(billion_laughs())


def test_deep_nesting_is_refused_not_a_recursion_error():
    from lab.train.recipe import TrainRecipe

    with pytest.raises(LabError, match="nested more than"):
        TrainRecipe.from_yaml("dataset: " + "[" * 5000 + "]" * 5000)


@pytest.mark.parametrize("field,value", [
    ("max_steps", 10**12), ("lora_r", 10**6), ("batch_size", 10**9), ("learning_rate", -1e-4),
    ("grad_accum", 10**9), ("max_seq_length", 10**9), ("epochs", 10**6),
])
def test_absurd_training_numbers_name_the_field(field, value, mini_data, tmp_path, load_spy, capsys):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"dataset": str(mini_data), "adapter": "lora", field: value}))
    code, err = _cli(["train", str(path)], capsys)
    assert code == 2 and f"error: {field}:" in err, err
    assert load_spy.nothing_loaded() and jobs.list_jobs() == []


def test_absurd_data_and_chat_numbers(tmp_path, mini_data, load_spy, capsys):
    recipe = {"sources": [{"path": str(mini_data)}], "steps": [{"type": "fuzzy_dedup", "num_perm": 10**9}]}
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(recipe))
    code, err = _cli(["data", "run", str(path), "--out", str(tmp_path / "o.jsonl")], capsys)
    assert code == 2 and "num_perm" in err.split("Fix:")[0], err
    from lab.chat.spec import ChatSpec
    from lab.settings import get_settings

    with pytest.raises(LabError) as e:
        ChatSpec.from_yaml("temperature: -1\n")
    assert e.value.field == "temperature"
    spec = ChatSpec.from_yaml("max_new_tokens: 1000000000\n")  # clamped to the server's cap, and said so
    assert spec.max_new_tokens == get_settings().max_new_tokens_cap and "clamped" in spec.notices[0]
    assert load_spy.nothing_loaded() and not (tmp_path / "o.jsonl").exists()


def test_a_ten_thousand_layer_passthrough_is_refused(bundled_model, tmp_path, load_spy, capsys):
    slices = [{"sources": [{"model": str(bundled_model), "layer_range": [0, 30]}]} for _ in range(334)]
    path = tmp_path / "deep.yaml"
    path.write_text(yaml.safe_dump({"merge_method": "passthrough", "slices": slices}))
    for extra in ([], ["--job"], ["--preflight"]):
        code, err = _cli(["merge", str(path), "--out", str(tmp_path / "never"), *extra], capsys)
        assert code == 2 and "error: slices: The slices stack 10,020 output layers" in err, err
    assert load_spy.nothing_loaded() and jobs.list_jobs() == [] and not (tmp_path / "never").exists()
