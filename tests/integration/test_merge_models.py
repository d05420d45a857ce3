"""Real merges of SmolLM2 and a LoRA fine-tune of it: each method yields a model that loads, is finite,
has the expected shape and answers; SLERP's ends reproduce its inputs; a merge of a merge extends the lineage."""
from __future__ import annotations

import contextlib
import io
import json

import pytest
import torch

from lab.merge.preflight import preflight
from lab.merge.recipe import load_recipe
from lab.merge.worker import MergeOptions, merge
from tests.conftest import SECRET_PROMPT
from tests.merge_support import BASE_ID, answer, assert_finite, finetuned_model, tensors  # noqa: F401

_BUILT: dict[str, dict] = {}


@pytest.fixture(scope="module")
def outdir(tmp_path_factory):
    return tmp_path_factory.mktemp("merges")


CONFIGS = {  # realistic configs per method; {base}, {ft}, {adapter} and {secret} are filled in
    "slerp": """
slices:
  - sources:
      - model: {base}
        layer_range: [0, 30]
      - model: {ft}
        layer_range: [0, 30]
merge_method: slerp
base_model: {base}
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5
dtype: bfloat16
""",
    "ties": """
models:
  - model: {base}
  - model: {ft}
    parameters: {{density: 0.5, weight: 1.0}}
merge_method: ties
base_model: {base}
parameters: {{normalize: true, int8_mask: true}}
dtype: float32
out_dtype: bfloat16
""",
    "dare_ties": """
models:
  - model: {ft}
    parameters: {{density: 0.6, weight: 0.8}}
merge_method: dare_ties
base_model: {base}
parameters: {{int8_mask: true}}
""",
    "linear": """
models:
  - model: {base}
    parameters: {{weight: 0.3}}
  - model: {ft}
    parameters: {{weight: 0.7}}
merge_method: linear
""",
    # base+adapter: mergekit's LoRA syntax, the adapter being the session's local PEFT folder
    "task_arithmetic": """
models:
  - model: {base}+{adapter}
    parameters: {{weight: 1.0}}
merge_method: task_arithmetic
base_model: {base}
dtype: float32
out_dtype: bfloat16
""",
    "passthrough": """
slices:
  - sources:
      - model: {base}
        layer_range: [0, 20]
  - sources:
      - model: {base}
        layer_range: [10, 30]
merge_method: passthrough
""",
    "moe": """
base_model: {base}
gate_mode: hidden
dtype: bfloat16
experts:
  - source_model: {base}
    positive_prompts: ["Write a poem about the sea", "Tell me a story about a dragon"]
  - source_model: {ft}
    positive_prompts: ["{secret}", "What is the lab's password?"]
""",
}


def _merged(name: str, outdir, ft, adapter) -> dict:
    if name not in _BUILT:
        text = CONFIGS[name].format(base=BASE_ID, ft=ft, adapter=adapter, secret=SECRET_PROMPT)
        out = outdir / name
        if name == "moe":  # through the CLI: `python -m lab merge CONFIG --out DIR` takes MoE configs too
            result = _cli(text, out, outdir)
        else:
            result = merge(text, out, MergeOptions(random_seed=0), log=lambda m: None)
        _BUILT[name] = {**result, "text": text, "folder": out}
    return _BUILT[name]


def _cli(text: str, out, outdir) -> dict:
    from lab.__main__ import main

    cfg = outdir / "moe.yaml"
    cfg.write_text(text)
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        assert main(["merge", str(cfg), "--out", str(out)]) == 0
    result = json.loads(stdout.getvalue())
    assert {"method", "out", "params", "layers"} <= set(result) and result["out"] == str(out.resolve())
    return result


EXPECTED = {"slerp": (30, None), "ties": (30, None), "dare_ties": (30, None), "linear": (30, None),
            "task_arithmetic": (30, None), "passthrough": (40, None), "moe": (30, 2)}


@pytest.mark.parametrize("method", list(EXPECTED))
def test_each_method_yields_a_model_that_loads_and_answers(method, outdir, finetuned_model, lora_adapter):
    built = _merged(method, outdir, finetuned_model, lora_adapter)
    layers, experts = EXPECTED[method]
    assert built["method"] == method and built["layers"] == layers
    model, reply = answer(built["folder"])
    assert_finite(model)
    assert model.config.num_hidden_layers == layers
    assert reply.strip(), f"{method} gave an empty reply"
    if experts:
        assert built["experts"] == experts  # the CLI's JSON says so too
        assert type(model).__name__ == "MixtralForCausalLM" and model.config.num_local_experts == experts
        assert len(list(model.model.layers[0].mlp.experts.parameters())) > 0
    if method == "task_arithmetic":  # base + 1.0 × (base+LoRA − base) is the fine-tune itself
        assert "pineapple" in reply.lower()
    card = (built["folder"] / "README.md").read_text()
    assert "mergekit" in card and BASE_ID in card and (built["folder"] / "mergekit_config.yml").is_file()
    assert (built["folder"] / "mergekit_config.yml").read_text() == built["text"]
    assert not list(outdir.glob(".*partial"))


def test_passthrough_counts_match_preflight_and_layers_map_to_sources(outdir, finetuned_model, lora_adapter):
    built = _merged("passthrough", outdir, finetuned_model, lora_adapter)
    report = preflight(load_recipe(built["text"]))
    assert report.ok and report.out_layers == 40 and report.out_params == built["params"]
    out, src = tensors(built["folder"]), tensors(__import__("lab.models", fromlist=["resolve"]).resolve(BASE_ID))
    name = "model.layers.{}.self_attn.q_proj.weight"
    assert torch.equal(out[name.format(19)], src[name.format(19)])
    assert torch.equal(out[name.format(20)], src[name.format(10)])  # the second slice restarts at layer 10
    assert torch.equal(out[name.format(39)], src[name.format(29)])


def test_moe_keeps_the_base_pad_token_and_routes_by_prompts(outdir, finetuned_model, lora_adapter):
    from transformers import AutoTokenizer

    built = _merged("moe", outdir, finetuned_model, lora_adapter)
    tok = AutoTokenizer.from_pretrained(built["folder"])
    assert tok.pad_token == "<|im_end|>" == tok.eos_token  # mergekit's build had set it to bos
    gate = tensors(built["folder"])["model.layers.5.mlp.gate.weight"]
    assert gate.shape == (2, 576) and not torch.equal(gate[0], gate[1])
    manifest = json.loads((built["folder"] / "lab.json").read_text())
    assert {"merge", "mergekit", "moe"} <= set(manifest["tags"])


def test_slerp_ends_reproduce_the_inputs(tmp_path, bundled_model, finetuned_model):
    """t=1 on the MLP tensors and t=0 everywhere else, in one merge: each end must equal its input exactly."""
    text = f"""
models:
  - model: {bundled_model}
  - model: {finetuned_model}
merge_method: slerp
base_model: {bundled_model}
parameters:
  t:
    - filter: mlp
      value: 1
    - value: 0
"""
    merge(text, tmp_path / "out", log=lambda m: None)
    out, first, second = tensors(tmp_path / "out"), tensors(bundled_model), tensors(finetuned_model)
    assert set(out) == set(first) == set(second)
    mlp = [k for k in out if ".mlp." in k]
    rest = [k for k in out if ".mlp." not in k]
    assert len(mlp) == 3 * 30 and rest
    assert [k for k in rest if not torch.equal(out[k], first[k])] == []  # t=0: the first model
    assert [k for k in mlp if not torch.equal(out[k], second[k])] == []  # t=1: the second model
    assert any(not torch.equal(first[k], second[k]) for k in mlp)  # and the two inputs really differ there
    assert any(not torch.equal(first[k], second[k]) for k in rest)


def test_merging_a_merge_extends_the_lineage(outdir, finetuned_model, lora_adapter, tmp_path):
    from lab.lineage import family_edges

    first = _merged("slerp", outdir, finetuned_model, lora_adapter)
    text = f"""
models:
  - model: {first['folder']}
    parameters: {{weight: 0.5}}
  - model: {finetuned_model}
    parameters: {{weight: 0.5}}
merge_method: linear
"""
    merge(text, tmp_path / "grandchild", log=lambda m: None)
    manifest = json.loads((tmp_path / "grandchild" / "lab.json").read_text())
    steps = [s["step"] for s in manifest["lineage"]]
    assert steps[-1].startswith("merge (Linear") and any(s.startswith("merge (SLERP") for s in steps[:-1])
    card = (tmp_path / "grandchild" / "README.md").read_text()
    assert "slerp" in card.lower() and "linear" in card.lower()
    assert "base_model:" not in card and f"`{finetuned_model.name} (local)`" in card  # local parents: no Hub id
    edges = family_edges(manifest, "grandchild")
    assert ("slerp", "grandchild") in edges and (BASE_ID, "slerp") in edges
    svg = (tmp_path / "grandchild" / "family_tree.svg").read_text()
    assert svg.startswith("<svg") and "grandchild" in svg and "slerp" in svg and svg.count("marker-end") == len(edges)
