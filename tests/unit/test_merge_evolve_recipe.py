"""The evolve recipe: candidate vectors become mergekit configs (global or per layer group), the parents' vectors
are each parent alone, and configs that cannot work are refused naming the field."""
import pytest

from lab import settings
from lab.access import VISITOR, Caller
from lab.errors import LabError
from lab.merge import evolve_job
from lab.merge.evolve_recipe import EvolveRecipe
from lab.merge.recipe import from_dict


def test_ties_with_weights_and_densities_per_layer_group():
    r = EvolveRecipe.parse({"models": ["a", "b", "c"], "base_model": "base", "method": "ties",
                            "search": ["weight", "density"], "groups": 2, "fitness": ["quiz.jsonl"]})
    assert r.dimension == 3 * 2 * 2
    config = r.to_config([0.1, 0.2, 0.0, 0.9, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.91, 0.92])
    assert config["base_model"] == "base"
    assert config["models"][0]["parameters"] == {"weight": [0.1, 0.2], "density": [0.05, 0.9]}  # density floor
    from_dict(config)  # a valid mergekit config
    assert r.parents()[1] == [0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1]  # per model: weights, then densities


def test_slerp_searches_t_and_its_ends_are_the_two_parents():
    r = EvolveRecipe.parse({"models": ["a", "b"], "method": "slerp", "fitness": ["quiz.jsonl"]})
    assert r.dimension == 1 and r.parents() == [[0.0], [1.0]]
    assert r.to_config([0.3])["parameters"] == {"t": 0.3} and r.to_config([0.3])["base_model"] == "a"


def test_all_zero_weights_stay_mergeable():
    r = EvolveRecipe.parse({"models": ["a", "b"], "fitness": ["quiz.jsonl"]})
    assert r.to_config([0.0, 0.0])["models"][0]["parameters"]["weight"] > 0


@pytest.mark.parametrize("bad, field", [({"models": ["a"]}, "models"), ({"method": "ties"}, "base_model"),
                                        ({"search": ["density"]}, "search"), ({"models": ["a", "b", "c"],
                                                                              "method": "slerp"}, "models")])
def test_bad_configs_are_refused_naming_the_field(bad, field):
    with pytest.raises(LabError) as err:
        EvolveRecipe.parse({"models": ["a", "b"], "fitness": ["quiz.jsonl"], **bad})
    assert field in (err.value.field or "") + err.value.what


def test_on_a_space_a_visitors_config_naming_a_folder_outside_the_lab_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SPACE_ID", "me/lab")
    settings.reset_caches()
    outside = tmp_path / "private-model"
    outside.mkdir()
    text = f"models: [HuggingFaceTB/SmolLM2-135M-Instruct, {outside}]\nfitness: [quiz.jsonl]\n"
    with pytest.raises(LabError) as err:
        evolve_job.check_for(text, Caller(VISITOR, "bob"))
    assert err.value.field == "models[1].model" and "not a model you can use" in err.value.what
    assert str(outside) not in str(err.value)  # no server path is echoed back


def test_a_followed_job_refills_the_form_with_its_own_config():
    r = EvolveRecipe.parse({"models": ["a", "b"], "fitness": ["quiz.jsonl"], "population": 2, "candidates": 4})
    text = evolve_job.config_text(r.to_yaml())  # the job's record holds the recipe's full YAML
    assert EvolveRecipe.from_yaml(text) == r
    assert "base_model" not in text and "time_s" not in text and "held_out" not in text  # unset fields left out
