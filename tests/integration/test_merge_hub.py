"""Preflight of Hub models against the fake Hub: config files only, never a weight; .bin-only repos refused."""
from __future__ import annotations

import json

from lab.merge.preflight import Resources, preflight
from lab.merge.recipe import load_recipe
from tests.fakehub import fake_hub  # noqa: F401

CFG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "num_hidden_layers": 30, "hidden_size": 576,
       "intermediate_size": 1536, "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152,
       "tie_word_embeddings": True, "dtype": "bfloat16"}
FAKE_WEIGHTS = b"\x00" * 4096  # listed, never fetched


def _seed(hub, name: str, license_: str = "apache-2.0", weights: str = "model.safetensors", **cfg) -> str:
    hub.seed(name, files={"config.json": json.dumps({**CFG, **cfg}).encode(),
                          "tokenizer_config.json": b'{"chat_template": "{{ messages }}", "eos_token": "</s>"}',
                          "README.md": f"---\nlicense: {license_}\nbase_model: acme/base\n---\n".encode(),
                          weights: FAKE_WEIGHTS})
    return name


def test_preflight_of_two_hub_models_reads_configs_only(fake_hub):  # noqa: F811
    a, b = _seed(fake_hub, "acme/chat-a"), _seed(fake_hub, "acme/chat-b", license_="cc-by-nc-4.0")
    recipe = load_recipe(f"models:\n  - model: {a}\n  - model: {b}\n    parameters: {{weight: 0.6, density: 0.5}}\n"
                         f"merge_method: dare_ties\nbase_model: {a}\n")
    report = preflight(recipe, resources=Resources(64, 500))
    assert report.ok, report.markdown()
    assert [r["weights"] for r in report.models] == ["download", "download"]
    assert [r["safetensors"] for r in report.models] == ["yes", "yes"]
    assert report.license == "cc-by-nc-4.0" and any(c.field == "license" for c in report.checks if c.level == "warn")
    assert report.disk_needed_gb > 2 * 0.25  # the output plus both downloads
    fetched = [path for _, path in fake_hub.requests]
    assert any("config.json" in p for p in fetched)
    assert not any(".safetensors" in p and "/resolve/" in p for p in fetched), fetched


def test_bin_only_and_mismatched_hub_models_are_refused(fake_hub):  # noqa: F811
    a = _seed(fake_hub, "acme/chat-a")
    pickled = _seed(fake_hub, "acme/pickled", weights="pytorch_model.bin")
    other = _seed(fake_hub, "acme/qwen", architectures=["Qwen2ForCausalLM"], model_type="qwen2", hidden_size=896)
    for ref, words in ((pickled, "no *.safetensors"), (other, "Qwen2ForCausalLM")):
        recipe = load_recipe(f"models:\n  - model: {a}\n  - model: {ref}\n    parameters: {{weight: 1}}\n"
                             f"merge_method: task_arithmetic\nbase_model: {a}\n")
        report = preflight(recipe, resources=Resources(64, 500))
        assert not report.ok and any(c.field == "models[1].model" and words in c.message for c in report.errors)
