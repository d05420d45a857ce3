"""Preflight from config files alone: mismatches, vocabularies, slices, licenses, files, RAM and disk."""
from __future__ import annotations

import pytest

from lab.errors import LabError
from lab.merge.preflight import Resources, preflight
from lab.merge.recipe import load_recipe
from tests.merge_support import write_config_model

PLENTY = Resources(ram_gb=64, disk_gb=500)


def _ties(a, b, extra=""):
    return load_recipe(f"models:\n  - model: {a}\n  - model: {b}\n    parameters: {{weight: 1, density: 0.5}}\n"
                       f"merge_method: ties\nbase_model: {a}\n{extra}")


def test_a_mismatched_pair_is_refused_from_configs_alone(tmp_path):
    a = write_config_model(tmp_path / "llama")
    b = write_config_model(tmp_path / "mistral", arch="MistralForCausalLM", model_type="mistral", hidden=4096)
    report = preflight(_ties(a, b), resources=PLENTY)
    assert not report.ok
    err = report.errors[0]
    assert err.field == "models[1].model" and "MistralForCausalLM" in err.message and "LlamaForCausalLM" in err.message
    assert "crime" not in report.markdown().lower()  # no way around it is offered
    with pytest.raises(LabError) as raised:
        report.raise_for_errors()
    assert raised.value.field == "models[1].model"


def test_shapes_and_depth_must_match_for_per_parameter_methods(tmp_path):
    a = write_config_model(tmp_path / "a")
    wide = write_config_model(tmp_path / "wide", hidden=960, heads=15, kv=5)
    deep = write_config_model(tmp_path / "deep", layers=32)
    assert "hidden_size 960 vs 576" in preflight(_ties(a, wide), resources=PLENTY).errors[0].message
    assert "num_hidden_layers 32 vs 30" in preflight(_ties(a, deep), resources=PLENTY).errors[0].message
    stack = load_recipe(f"slices:\n  - sources: [{{model: {a}, layer_range: [0, 20]}}]\n"
                        f"  - sources: [{{model: {deep}, layer_range: [12, 32]}}]\nmerge_method: passthrough\n")
    report = preflight(stack, resources=PLENTY)
    assert report.ok and report.out_layers == 40  # passthrough stacks models of different depth


def test_vocab_mismatch_shows_both_sizes_and_the_tokenizer_options(tmp_path):
    a = write_config_model(tmp_path / "a")
    b = write_config_model(tmp_path / "b", vocab=49216)
    report = preflight(_ties(a, b), resources=PLENTY)
    err = next(c for c in report.errors if c.field == "tokenizer_source")
    assert "49152" in err.message and "49216" in err.message and "union" in err.fix and "base" in err.fix
    assert report.tokenizer_options == ["base", "union"]
    assert report.vocab_sizes == {str(a): 49152, str(b): 49216}
    fixed = preflight(_ties(a, b, "tokenizer_source: union\n"), resources=PLENTY)
    assert fixed.ok, fixed.markdown()


def test_a_slice_outside_the_model_is_an_error(tmp_path):
    a = write_config_model(tmp_path / "a")
    recipe = load_recipe(f"slices:\n  - sources: [{{model: {a}, layer_range: [0, 24]}}]\n"
                         f"  - sources: [{{model: {a}, layer_range: [8, 32]}}]\nmerge_method: passthrough\n")
    report = preflight(recipe, resources=PLENTY)
    err = report.errors[0]
    assert err.field == "slices[1].sources[0].layer_range" and "30 layers" in err.message


def test_passthrough_params_are_counted_from_the_slices(tmp_path):
    a = write_config_model(tmp_path / "a", weights=False)  # no safetensors header: estimate from config
    recipe = load_recipe(f"slices:\n  - sources: [{{model: {a}, layer_range: [0, 20]}}]\n"
                         f"  - sources: [{{model: {a}, layer_range: [10, 30]}}]\nmerge_method: passthrough\n")
    report = preflight(recipe, resources=PLENTY)
    per_layer = 576 * 9 * 64 * 2 + 576 * 3 * 64 * 2 + 3 * 576 * 1536 + 2 * 576
    assert report.out_layers == 40 and report.out_params == 49152 * 576 + 576 + 40 * per_layer
    assert any(c.field == "slices[0].sources[0].model" and "no *.safetensors" in c.message for c in report.errors)


def test_licenses_templates_and_files_are_reported(tmp_path):
    a = write_config_model(tmp_path / "a", license_="apache-2.0", template=False)
    b = write_config_model(tmp_path / "b", license_="cc-by-nc-4.0")
    report = preflight(_ties(a, b), resources=PLENTY)
    assert report.ok and report.license == "cc-by-nc-4.0"
    warns = {c.field: c for c in report.checks if c.level == "warn"}
    assert "cc-by-nc-4.0" in warns["license"].message
    assert "no chat template" in warns["chat_template"].message and "auto" in warns["chat_template"].fix
    assert [row["license"] for row in report.models] == ["apache-2.0", "cc-by-nc-4.0"]


def test_not_enough_ram_or_disk_is_refused_with_numbers(tmp_path):
    a = write_config_model(tmp_path / "a")
    b = write_config_model(tmp_path / "b")
    report = preflight(_ties(a, b), resources=Resources(ram_gb=0.5, disk_gb=0.1))
    by_field = {c.field: c.message for c in report.errors}
    assert "0.5 GB is available" in by_field["memory"] and "GB of RAM" in by_field["memory"]
    assert "0.1 GB is free" in by_field["disk"]
    assert report.ram_needed_gb > 0.5 and report.disk_needed_gb > 0.1 and report.out_params > 100e6


def test_moe_preflight_checks_the_family(tmp_path):
    a = write_config_model(tmp_path / "a", arch="Gemma2ForCausalLM", model_type="gemma2")
    b = write_config_model(tmp_path / "b", arch="Gemma2ForCausalLM", model_type="gemma2")
    moe = load_recipe(f"base_model: {a}\ngate_mode: random\nexperts: [{{source_model: {a}}}, {{source_model: {b}}}]")
    report = preflight(moe, resources=PLENTY)
    assert report.errors[0].field == "base_model" and "gemma2" in report.errors[0].message


def test_missing_local_model_and_bad_adapter_name_their_field(tmp_path):
    a = write_config_model(tmp_path / "a")
    report = preflight(_ties(a, tmp_path / "nowhere"), resources=PLENTY)
    assert report.errors[0].field == "models[1].model"
    recipe = load_recipe(f"models:\n  - model: {a}+{tmp_path / 'not-an-adapter'}\n    parameters: {{weight: 1}}\n"
                         f"merge_method: task_arithmetic\nbase_model: {a}\n")
    report = preflight(recipe, resources=PLENTY)
    assert report.errors[0].field == "models[0].model" and "PEFT" in report.errors[0].message
