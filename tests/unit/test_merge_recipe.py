"""MergeRecipe <-> mergekit YAML <-> the form: realistic configs keep mergekit's meaning; bad input names its field."""
from __future__ import annotations

import itertools

import pytest
import yaml

from lab.errors import LabError
from lab.merge.form import from_form, to_form
from lab.merge.methods import METHODS, evaluate, param_help
from lab.merge.recipe import MoERecipe, load_recipe

A, B, C, D = "org/base-7b", "org/chat-ft", "/data/artifacts/code-ft", "org/math-ft"
REALISTIC = {
    "slerp_gradient": f"""
slices:
  - sources:
      - model: {A}
        layer_range: [0, 32]
      - model: {B}
        layer_range: [0, 32]
merge_method: slerp
base_model: {A}
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5
dtype: bfloat16
""",
    "slerp_models_tokenizer": f"""
models: [{{model: {A}}}, {{model: {B}}}]
merge_method: slerp
base_model: {A}
parameters: {{t: 0.35}}
tokenizer_source: base
chat_template: chatml
""",
    "slerp_slice_params": f"""
slices:
  - sources:
      - {{model: {A}, layer_range: [0, 16]}}
      - {{model: {B}, layer_range: [0, 16]}}
    parameters: {{t: 0.2}}
  - sources:
      - {{model: {A}, layer_range: [16, 32]}}
      - {{model: {B}, layer_range: [16, 32], parameters: {{t: [0.4, 0.9]}}}}
merge_method: slerp
base_model: {A}
parameters: {{t: 0.5}}
""",
    "ties": f"""
models:
  - model: {A}
  - model: {B}
    parameters: {{density: 0.5, weight: 0.5}}
  - model: {C}
    parameters: {{density: 0.5, weight: [0, 0.3, 0.7, 1]}}
merge_method: ties
base_model: {A}
parameters: {{normalize: true, int8_mask: true}}
dtype: float16
""",
    "dare_ties": f"""
models:
  - model: {A}
  - model: {B}
    parameters: {{density: 0.53, weight: 0.4}}
  - model: {C}
    parameters: {{density: 0.53, weight: 0.3}}
  - model: {D}+/data/adapters/math-lora
    parameters: {{density: 0.53, weight: 0.3}}
merge_method: dare_ties
base_model: {A}
parameters: {{int8_mask: true}}
dtype: bfloat16
""",
    "dare_linear_filters": f"""
models:
  - model: {B}
    parameters:
      weight:
        - filter: mlp
          value: 0.7
        - value: 0.3
      density: 0.6
merge_method: dare_linear
base_model: {A}
parameters: {{rescale: false, lambda: 1.2}}
out_dtype: bfloat16
""",
    "task_arithmetic_negative": f"""
models:
  - model: {B}
    parameters: {{weight: 1.0}}
  - model: {C}
    parameters: {{weight: -0.5}}
merge_method: task_arithmetic
base_model: {A}
parameters: {{normalize: false, lambda: 0.8}}
""",
    "linear_filtered": f"""
models:
  - model: {B}
    parameters:
      weight: [{{filter: self_attn, value: 0.8}}, {{filter: "*", value: 0.4}}]
  - model: {C}
    parameters: {{weight: 0.6}}
merge_method: linear
parameters: {{normalize: true}}
dtype: float32
""",
    "breadcrumbs": f"""
models:
  - model: {B}
    parameters: {{weight: 0.5, density: 0.9, gamma: 0.01}}
  - model: {C}
    parameters: {{weight: 0.5, density: 0.9, gamma: 0.02}}
merge_method: breadcrumbs
base_model: {A}
""",
    "della": f"""
models:
  - model: {B}
    parameters: {{weight: 0.5, density: 0.5, epsilon: 0.1}}
  - model: {C}
    parameters: {{weight: 0.5, density: 0.5, epsilon: 0.15}}
merge_method: della
base_model: {A}
parameters: {{lambda: 1.1, normalize: true}}
""",
    "model_stock": f"""
models: [{{model: {B}}}, {{model: {C}}}, {{model: {D}}}]
merge_method: model_stock
base_model: {A}
parameters: {{filter_wise: false}}
dtype: bfloat16
""",
    "nuslerp": f"""
models:
  - {{model: {B}, parameters: {{weight: 0.6}}}}
  - {{model: {C}, parameters: {{weight: 0.4}}}}
merge_method: nuslerp
parameters: {{nuslerp_row_wise: false, nuslerp_flatten: false}}
""",
    "passthrough_120b": "slices:\n" + "".join(
        f"  - sources:\n      - model: meta-llama/Meta-Llama-3-70B-Instruct\n        layer_range: [{a}, {a + 20}]\n"
        for a in range(0, 61, 10)) + "merge_method: passthrough\ndtype: float16\n",
    "passthrough_scaled": f"""
slices:
  - sources: [{{model: {A}, layer_range: [0, 24]}}]
  - sources:
      - model: {A}
        layer_range: [8, 32]
        parameters:
          scale:
            - filter: o_proj
              value: 0.0
            - filter: down_proj
              value: 0.0
            - value: 1.0
merge_method: passthrough
""",
    "tokenizer_union": f"""
models:
  - {{model: {B}, parameters: {{weight: 0.5}}}}
  - {{model: {C}, parameters: {{weight: 0.5}}}}
merge_method: linear
tokenizer:
  source: union
  tokens:
    <|im_start|>: {{source: {B}}}
""",
    "modules_multimodal": f"""
modules:
  text_decoder:
    slices:
      - sources:
          - {{model: {A}, layer_range: [0, 32]}}
          - {{model: {B}, layer_range: [0, 32]}}
    parameters: {{t: [0, 0.5, 1]}}
  vision_tower:
    models: [{{model: {A}}}, {{model: {B}}}]
merge_method: slerp
base_model: {A}
parameters: {{t: 0.3}}
""",
}
MOE = {
    "moe_4x_hidden": f"""
base_model: {A}
gate_mode: hidden
dtype: bfloat16
experts:
  - source_model: {B}
    positive_prompts: ["chat", "assistant", "tell me", "explain"]
  - source_model: {C}
    positive_prompts: ["code", "python", "javascript", "programming", "algorithm"]
    negative_prompts: ["poem"]
  - source_model: org/roleplay-ft
    positive_prompts: ["storywriting", "write", "scene", "story", "character"]
  - source_model: {D}
    positive_prompts: ["reason", "math", "mathematics", "solve", "count"]
    noise_scale: 0.01
""",
    "moe_cheap_one_per_token": f"""
base_model: {A}
gate_mode: cheap_embed
experts_per_token: 1
experts:
  - {{source_model: {B}, positive_prompts: [hi]}}
  - {{source_model: {C}, positive_prompts: [def, class]}}
architecture: mixtral
""",
}

NAMES = ["model.embed_tokens.weight", "model.layers.3.self_attn.q_proj.weight",
         "model.layers.3.self_attn.o_proj.weight", "model.layers.9.mlp.down_proj.weight",
         "model.layers.9.mlp.up_proj.weight", "model.norm.weight", "lm_head.weight"]
TS = [0, 0.1, 0.25, 0.5, 0.77, 1]


def _meaning(obj):
    """mergekit's view of a config: every parameter setting replaced by what it evaluates to per tensor and t."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == "parameters" and isinstance(v, dict):
                out[k] = {name: tuple(_mk_eval(s, n, t) for n, t in itertools.product(NAMES, TS))
                          for name, s in v.items()}
            else:
                out[k] = _meaning(v)
        return out
    if isinstance(obj, list):
        return [_meaning(v) for v in obj]
    return obj


def _mk_eval(setting, name, t):
    from mergekit.config import ConditionalParameter, evaluate_setting

    if isinstance(setting, dict):
        setting = ConditionalParameter.model_validate(setting)
    elif isinstance(setting, list) and setting and isinstance(setting[0], dict):
        setting = [ConditionalParameter.model_validate(c) for c in setting]
    return evaluate_setting(name, setting, t, validate=lambda x: x)


def _mergekit(text: str):
    from mergekit.config import MergeConfiguration
    from mergekit.moe.config import MoEMergeConfig

    data = yaml.safe_load(text)
    schema = MoEMergeConfig if "experts" in data else MergeConfiguration
    return schema.model_validate(data)


def _through_the_form(text: str) -> str:
    """What the UI does: YAML fills the form; the form (as widgets hold it: strings, rows) writes the YAML."""
    values = to_form(load_recipe(text))
    values = yaml.safe_load(yaml.safe_dump(values))  # only plain values survive, like widget state
    return from_form(values).to_yaml()


@pytest.mark.parametrize("name", list(REALISTIC) + list(MOE))
def test_yaml_form_yaml_keeps_mergekits_meaning(name):
    text = {**REALISTIC, **MOE}[name]
    again = _through_the_form(text)
    before, after = _mergekit(text), _mergekit(again)
    assert _meaning(after.model_dump(mode="json")) == _meaning(before.model_dump(mode="json"))
    assert _through_the_form(again) == again  # and it is stable


def test_form_shows_slerp_t_per_filter_as_rows():
    values = to_form(load_recipe(REALISTIC["slerp_gradient"]))
    assert values["layout"] == "slices" and len(values["slices"]) == 2
    assert values["parameters"] == [["t", "self_attn", "[0, 0.5, 0.3, 0.7, 1]"],
                                    ["t", "mlp", "[1, 0.5, 0.7, 0.3, 0]"], ["t", "", "0.5"]]
    values["parameters"][2][2] = "0.6"  # the user edits the fallback t
    assert "value: 0.6" in from_form(values).to_yaml()


def test_moe_form_has_prompts_one_per_line():
    values = to_form(load_recipe(MOE["moe_4x_hidden"]))
    assert values["method"] == "moe" and len(values["experts"]) == 4
    assert values["experts"][1][1] == "code\npython\njavascript\nprogramming\nalgorithm"
    recipe = from_form(values)
    assert isinstance(recipe, MoERecipe) and recipe.experts[3].noise_scale == 0.01


def test_evaluate_mirrors_mergekit():
    settings = [0.3, True, "x", [0, 1], [0.2, 0.9, 0.1], [True, False, True], [1, 2, 3, 4, 5],
                [{"filter": "mlp", "value": [0, 1]}, {"value": 0.5}], {"filter": "self_attn", "value": 2},
                [{"filter": "o_proj", "value": 0}, {"filter": "*", "value": [1, 3]}]]
    for s in settings:
        for n, t in itertools.product(NAMES, TS):
            assert evaluate(s, n, t) == pytest.approx(_mk_eval(s, n, t)), (s, n, t)


def test_method_table_matches_mergekits_registry():
    from mergekit.merge_methods import registered_methods

    registry = {m.spec.name: m.spec for m in registered_methods()}
    assert set(registry) == set(METHODS)
    for name, spec in registry.items():
        ours = METHODS[name]
        assert ours.base == spec.contract.base.value and ours.min_inputs == spec.contract.min_inputs, name
        assert ours.max_inputs == spec.contract.max_inputs, name
        theirs = {(p.name, p.scope.value, p.required, None if p.required else p.default) for p in spec.parameters}
        assert {(p.name, p.scope, p.required, None if p.required else p.default) for p in ours.params} == theirs, name


def test_every_form_method_parameter_has_help():
    for name in ["slerp", "ties", "dare_ties", "dare_linear", "task_arithmetic", "linear", "breadcrumbs", "della",
                 "model_stock", "nuslerp", "passthrough"]:
        for p in METHODS[name].params:
            assert len(param_help(p.name)) > 20, (name, p.name)


@pytest.mark.parametrize("text, field, words", [
    ("merge_method: frankenstein\nmodels: [{model: a}]", "merge_method", "Unknown merge method"),
    ("merge_method: ties\nmodels:\n  - model: a\n   parameters: {}", "yaml", "line"),
    ("merge_method: linear\nbase_modle: a\nmodels: [{model: a, parameters: {weight: 1}}]", "base_modle", "not part"),
    ("merge_method: ties\nmodels: [{model: b, parameters: {weight: 1}}]", "base_model", "needs a base"),
    ("merge_method: linear\nmodels: [{model: a}, {model: b, parameters: {weight: 1}}]", "models[0].parameters.weight",
     "needs `weight`"),
    ("merge_method: slerp\nbase_model: a\nmodels: [{model: a}, {model: b}]\nparameters: {t: [{filter: mlp, value: 1}]}",
     "parameters.t", "every tensor"),
    ("merge_method: slerp\nbase_model: a\nmodels: [{model: a}, {model: b}, {model: c}]\nparameters: {t: 0.5}",
     "models", "exactly 2"),
    ("merge_method: passthrough\nslices: [{sources: [{model: a, layer_range: [8, 4]}]}]",
     "slices[0].sources[0].layer_range", "empty"),
    ("merge_method: slerp\nbase_model: a\nslices: [{sources: [{model: a, layer_range: [0, 4]}, "
     "{model: b, layer_range: [0, 6]}]}]\nparameters: {t: 0.5}", "slices[0].sources", "same number of layers"),
    ("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\nallow_crimes: true", "allow_crimes",
     "not part"),
    ("base_model: a\nexperts: [{source_model: b, positive_prompts: [x]}]", "experts", "at least 2"),
    ("base_model: a\ngate_mode: hidden\nexperts: [{source_model: b, positive_prompts: [x]}, {source_model: c}]",
     "experts[1].positive_prompts", "needs positive prompts"),
    ("base_model: a\ngate_mode: sideways\nexperts: [{source_model: b}, {source_model: c}]", "gate_mode", ""),
    ("base_model: a\nexperts: [{source_model: b, positive_prompts: [x]}, {source_model: b, positive_prompts: [y]}]",
     "experts", "same model"),
])
def test_bad_input_names_the_field(text, field, words):
    with pytest.raises(LabError) as err:
        load_recipe(text)
    assert err.value.field == field and words in str(err.value)


def test_random_gate_needs_no_prompts_and_valid_configs_pass_mergekits_schema():
    from lab.merge.recipe import check_with_mergekit

    moe = load_recipe("base_model: a\ngate_mode: random\nexperts: [{source_model: b}, {source_model: c}]")
    assert check_with_mergekit(moe).gate_mode == "random"
    for text in REALISTIC.values():
        assert check_with_mergekit(load_recipe(text)).merge_method == load_recipe(text).merge_method


def test_allow_crimes_is_unreachable():
    from pydantic import ValidationError

    from lab.merge.worker import MergeOptions, mergekit_options

    with pytest.raises(ValidationError):
        MergeOptions(allow_crimes=True)
    opts = mergekit_options(MergeOptions())
    assert opts.allow_crimes is False and opts.trust_remote_code is False and opts.safe_serialization is True


def test_mergekits_moe_exit_becomes_a_lab_error(tmp_path):
    """mergekit's MoE builder calls sys.exit(1) on a config it dislikes; the lab turns that into a LabError
    that carries mergekit's logged reason (the lab's own checks normally refuse such configs first)."""
    from lab.merge.recipe import Expert
    from lab.merge.worker import MergeOptions, _build_moe, mergekit_options

    lone = MoERecipe.model_construct(base_model="org/a", gate_mode="hidden", experts_per_token=2,
                                     experts=[Expert.model_construct(source_model="org/b", positive_prompts=["x"])])
    with pytest.raises(LabError) as err:
        _build_moe(lone, tmp_path / "out", mergekit_options(MergeOptions()))
    assert err.value.field == "experts" and "at least as many experts" in str(err.value)
