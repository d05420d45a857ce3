"""What the Merge tab does, without a browser: templates, method switches, pickers, pictures, local choices."""
from __future__ import annotations

import json

import pytest

from lab.errors import LabError
from lab.merge import editor
from lab.merge.pictures import curves, layer_positions
from lab.merge.recipe import MergeRecipe, MoERecipe, load_recipe
from lab.merge.templates import TEMPLATES, offline_yaml, template_yaml
from lab.settings import DEFAULT_MODEL


def test_templates_from_the_talk_parse_and_say_what_they_do():
    slerp = load_recipe(template_yaml("slerp"))
    assert slerp.merge_method == "slerp" and [c.filter for c in slerp.parameters["t"]] == ["self_attn", "mlp", None]
    dare = load_recipe(template_yaml("dare_ties"))
    assert dare.merge_method == "dare_ties" and len(dare.models) == 4
    assert all(m.parameters["density"] == 0.53 for m in dare.models[1:])
    self_merge = load_recipe(template_yaml("self_merge"))
    assert len({s.sources[0].model for s in self_merge.slices}) == 1
    assert sum(s.sources[0].layer_range[1] - s.sources[0].layer_range[0] for s in self_merge.slices) == 140
    moe = load_recipe(template_yaml("moe"))
    assert isinstance(moe, MoERecipe) and len(moe.experts) == 4 and all(e.positive_prompts for e in moe.experts)
    assert {"code", "math", "story"} <= {p for e in moe.experts for p in e.positive_prompts}
    for t in TEMPLATES.values():
        assert t.label and len(t.description) > 30


def test_offline_template_uses_the_newest_local_finetune(tmp_path):
    with pytest.raises(LabError) as err:
        template_yaml("offline")
    assert err.value.field == "template" and "Train" in err.value.fix
    from lab.artifacts import finalize, new_folder

    adapter = new_folder("adapter", "my-lora")
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": DEFAULT_MODEL}))
    finalize(adapter, "adapter", [], step="sft")
    recipe = load_recipe(template_yaml("offline"))
    assert recipe.merge_method == "slerp" and recipe.base_model == DEFAULT_MODEL
    assert recipe.models[1].model == f"{DEFAULT_MODEL}+{adapter}"
    choices = dict((v, k) for k, v in editor.local_choices())
    assert f"{DEFAULT_MODEL}+{adapter}" in choices and DEFAULT_MODEL in choices
    assert "+/x" in offline_yaml("org/m+/x")


def test_switching_methods_fills_what_the_new_method_needs():
    values = editor.yaml_to_form("models: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 1}}]"
                                 "\nmerge_method: linear\n")
    slerp = editor.switch_method(values, "slerp")
    assert ["t", "", "0.5"] in slerp["parameters"]
    ties = editor.switch_method({**values, "models": [["a", "", "", ""], ["b", "", "", ""]], "base_model": "a"},
                                "ties")
    assert ties["models"] == [["a", "", "", ""], ["b", "1.0", "", ""]]  # the base needs no weight
    assert editor.switch_method(values, "passthrough")["layout"] == "slices"
    moe = editor.switch_method(values, "moe")
    assert moe["gate_mode"] == "hidden" and moe["experts"] == []
    assert "t" in editor.method_help("slerp") and "density" in editor.method_help("ties")
    assert "cheap_embed" in editor.method_help("moe")


def test_adding_models_goes_where_the_layout_says():
    values = editor.yaml_to_form("slices:\n  - sources:\n    - {model: a, layer_range: [0, 8]}\n"
                                 "merge_method: passthrough\n")
    stacked = editor.add_model(values, "a", layers=8)
    assert stacked["slices"][-1] == ["1", "a", "0", "8", "", ""]
    slerp = editor.yaml_to_form("slices:\n  - sources:\n    - {model: a, layer_range: [0, 8]}\n"
                                "    - {model: b, layer_range: [0, 8]}\nmerge_method: slerp\nbase_model: a\n"
                                "parameters: {t: 0.5}\n")
    assert editor.add_model(slerp, "c")["slices"][-1] == ["0", "c", "0", "8", "", ""]
    moe = editor.add_model({"method": "moe", "experts": []}, "org/x")
    assert moe["experts"] == [["org/x", "", "", ""]]
    with pytest.raises(LabError):
        editor.add_model(values, " ")


def test_curves_follow_mergekits_gradients_per_slice_and_filter():
    recipe = load_recipe("slices:\n  - sources:\n    - {model: a, layer_range: [0, 5]}\n"
                         "    - {model: b, layer_range: [0, 5]}\n  - sources:\n    - {model: a, layer_range: [5, 10]}\n"
                         "    - {model: b, layer_range: [5, 10]}\nmerge_method: slerp\nbase_model: a\n"
                         "parameters:\n  t:\n    - {filter: self_attn, value: [0, 1]}\n    - {value: 0.5}\n")
    assert [round(t, 2) for _, t, _ in layer_positions(recipe, 10)[:5]] == [0, 0.25, 0.5, 0.75, 1]
    data = curves(recipe, 10)
    assert data["t (self_attn)"][:5] == [0, 0.25, 0.5, 0.75, 1.0] and data["t (mlp)"] == [0.5] * 10
    layer_map, curve_fig = editor.pictures(recipe)
    assert layer_map is not None and curve_fig is not None
    assert editor.pictures(load_recipe(template_yaml("moe"))) == (None, None)
    assert isinstance(load_recipe(template_yaml("slerp")), MergeRecipe)


def test_start_refuses_before_creating_anything(tmp_path, lab_home):
    from lab.settings import get_settings

    with pytest.raises(LabError):
        editor.start("merge_method: linear\nmodels: [{model: /nowhere, parameters: {weight: 1}}]\n", "x")
    arts = get_settings().artifacts
    assert not arts.exists() or not any(arts.iterdir())


def test_the_form_and_preflight_import_without_torch_or_mergekit():
    """The UI's YAML <-> form and preflight stay fast: mergekit (and torch) load only to merge."""
    import subprocess
    import sys

    code = ("import sys, lab.merge.form, lab.merge.preflight, lab.merge.editor, lab.merge.cli; "
            "print(sorted(m for m in ('torch', 'mergekit', 'transformers', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_adapter_folder_joins_a_merge_as_base_plus_adapter(tmp_path):
    adapter = tmp_path / "lora"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "org/base"}))
    assert editor.merge_ref(str(adapter)) == f"org/base+{adapter}"
    assert editor.merge_ref(" org/model ") == "org/model"
    values = editor.add_model({"method": "linear", "layout": "models", "models": []}, str(adapter))
    assert values["models"] == [[f"org/base+{adapter}", "", "", ""]]
