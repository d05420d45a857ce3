""""Load recipe" on Train, Merge, Data and Evaluate: a form's YAML, loaded back, gives the same form values; a bad
file raises a LabError naming the field and the fix (and so changes no widget)."""
from __future__ import annotations

import pytest

from lab.data import session as data_session
from lab.data.recipe import FilterRecipe, Source
from lab.errors import LabError
from lab.eval import board
from lab.merge import editor
from lab.merge.templates import TEMPLATES, template_yaml
from lab.train import panel
from lab.train.recipe import TrainRecipe
from lab.ui import recipe_loader


def test_a_train_form_comes_back_from_its_yaml():
    r = panel.apply_preset("DPO with LoRA", panel.form_from_recipe(TrainRecipe()))
    form = {**panel.form_from_recipe(r), "learning_rate": 3e-4, "lora_r": 32, "max_steps": 12, "seed": 7,
            "dataset": "upload:0123456789abcdef/pairs.jsonl", "target_modules": "q_proj,v_proj", "dpo_beta": 0.25}
    text = panel.recipe_from_form(form).to_yaml()  # what the tab's recipe box shows
    *values, shown = recipe_loader.train_values(text)
    expected = panel.form_from_recipe(panel.recipe_from_form(form))
    assert dict(zip(panel.FIELDS, values)) == expected
    assert values[panel.FIELDS.index("dpo_beta")] == 0.25 and values[panel.FIELDS.index("method")] == "dpo"
    assert shown == text


@pytest.mark.parametrize("key", [k for k in TEMPLATES if k != "offline"])  # offline: needs a fine-tune
def test_a_merge_form_comes_back_from_its_yaml(key):
    form = editor.yaml_to_form(template_yaml(key))
    assert editor.yaml_to_form(editor.form_to_yaml(form)) == form


def test_a_data_form_comes_back_from_its_yaml():
    widgets = [data_session.widget(k, n)[1] for k in data_session.step_order() for n in data_session.step_fields(k)]
    order = [(k, n) for k in data_session.step_order() for n in data_session.step_fields(k)]
    widgets[order.index(("fuzzy_dedup", "threshold"))] = 0.75
    widgets[order.index(("clusters", "drop"))] = "2, 5"
    widgets[order.index(("clusters", "enabled"))] = True
    source = Source(hub="tatsu-lab/alpaca", split="train", limit=500)
    text = FilterRecipe(sources=[source], steps=data_session.steps_from_widgets(widgets),
                        form="prompt_completion").to_yaml()
    values, left_out = recipe_loader.data_values(text)
    assert values["widgets"] == widgets and values["form"] == "prompt_completion" and not left_out
    assert (values["hub"], values["split"], values["limit"]) == ("tatsu-lab/alpaca", "train", 500)


def test_an_eval_form_comes_back_from_its_yaml():
    judge = {"backend": "local", "model": "HuggingFaceTB/SmolLM2-135M-Instruct", "endpoint": "", "api_key_env": "",
             "mode": "single", "reference_model": "", "rubric": "Is {answer} right?"}
    form = {"models": ["HuggingFaceTB/SmolLM2-135M-Instruct", "my-adapter"], "hub": "me/quiz:test, me/more:valid",
            "kind": "exact_match", "regex": r"(\d+)", "extract": "regex", "open": ["arc_easy"], "names": "my_task", "limit": "20",
            "fewshot": "3", "chat": "on", "batch": 4}
    recipe = board.recipe_from_form(form["models"], [], form["hub"], form["kind"], form["regex"], form["extract"],
                                    form["open"], form["names"], form["limit"], form["fewshot"], form["chat"], form["batch"],
                                    judge=judge)
    values = recipe_loader.eval_values(recipe.to_yaml())
    assert {k: values[k] for k in form} == form and values["judge"] == judge and values["left_out"] == []


def test_what_the_eval_form_cannot_hold_is_said():
    text = ("models: [HuggingFaceTB/SmolLM2-135M-Instruct]\ncustom:\n  - {path: upload:0123456789abcdef/q.jsonl}\n"
            "contamination: false\n")
    assert recipe_loader.eval_values(text)["left_out"] == ["task file q.jsonl (upload it again)", "contamination"]


@pytest.mark.parametrize("load, text, field", [
    (recipe_loader.train_values, "learning_rate: -1\n", "learning_rate"),
    (recipe_loader.train_values, "lora_rank: 8\n", "lora_rank"),
    (recipe_loader.data_values, "sources: []\n", "sources"),
    (recipe_loader.eval_values, "models: [a/b]\nbatch_size: 0\ntasks: [arc_easy]\n", "batch_size"),
    (editor.yaml_to_form, "merge_method: slerp\nbase_model: a/b\nslices: 3\n", "slices"),
    (recipe_loader.train_values, "a: &x [1]\nb: *x\n", "recipe"),
])
def test_a_bad_recipe_names_the_field_and_the_fix(load, text, field):
    with pytest.raises(LabError) as err:
        load(text)
    assert err.value.field.startswith(field) and err.value.fix


def test_a_recipe_file_that_is_not_text_is_refused(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(LabError, match="not UTF-8") as err:
        recipe_loader.recipe_text(path)
    assert err.value.field == "recipe file"
