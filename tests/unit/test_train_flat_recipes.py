"""Recipes of earlier versions were flat: `method: dpo` with `dpo_beta:` and every other method's fields beside it.

Each flat form the lab and its users wrote loads and makes the same run: the presets, the benchmarks' recipes
(bench/sides/train_job.py, bench/gpu/check.py, the CLI flags of bench/sides/train_memory.py), recipes the tests
write, and a form saved after switching method. flat_recipes.json holds each as the version before the method
registry saved it, with the job kind, the TRL config and the `trl` command that version made of it.
"""
import json
import shlex
from pathlib import Path

import pytest
import yaml

from lab.hardware import Hardware, set_hardware
from lab.train import KINDS, build, methods
from lab.train.recipe import TrainRecipe

CPU = Hardware(ram_gb=24, bnb_ok=True, cpu_count=2)
CASES = json.loads((Path(__file__).parent / "flat_recipes.json").read_text())
SKIP = {"output_dir", "logging_dir", "run_name", "hub_token", "push_to_hub_token"}
NEWER = {"engine": "auto", "padding_free": True, "liger": "auto",  # fields added after these files: their defaults
         "trackio_space": "", "num_processes": 1, "distributed": "ddp"}


def _config_diff(cfg) -> dict:
    """The TRL config's values that differ from its class's defaults (as the fixture was written)."""
    plain = lambda c: json.loads(json.dumps(c.to_dict(), default=str))  # noqa: E731
    default = plain(type(cfg)(output_dir="/tmp/out", use_cpu=True, bf16=False))
    return {k: v for k, v in plain(cfg).items() if k not in SKIP and default.get(k) != v}


def _command(text: str) -> tuple:
    """(subcommand, {flag: values}, trailing comment) of a `trl` command line: the order of flags is free."""
    line = text.splitlines()[0]
    words, note = shlex.split(line.split("  # ")[0]), line.partition("  # ")[2]
    flags, current = {}, None
    for word in words[2:]:
        if word.startswith("--"):
            current = flags.setdefault(word, [])
        else:
            current.append(word)
    return words[:2], flags, note, text.splitlines()[1:]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_a_flat_recipe_makes_the_same_run(case):
    set_hardware(CPU)
    recipe = TrainRecipe.parse(case["flat"])
    assert TrainRecipe.from_yaml(yaml.safe_dump(case["flat"])) == recipe  # the same as a file
    assert TrainRecipe.from_yaml(recipe.to_yaml()) == recipe  # and the nested form it saves now
    assert KINDS[recipe.method.name] == case["kind"]
    method = methods.of(recipe)
    older = {field: flat for flat, field in method.older_flat.items()}
    for name, value in recipe.flat(mode="json").items():  # every value the run reads is the file's
        field = method.flat.get(name)
        expected = case["flat"].get(name, case["flat"].get(older.get(field, ""), NEWER.get(name)))
        assert value == expected, name
    config = build.training_args(recipe, Path("/tmp/out"), build.plan(recipe, CPU), False, 100)
    assert type(config).__name__ == case["config_class"]
    assert _config_diff(config) == case["config"]
    assert _command(build.trl_command(recipe, "out")) == _command(case["trl"])
    set_hardware(None)


def test_other_methods_flat_fields_are_ignored_but_packing_is_refused():
    sft = next(c for c in CASES if c["name"] == "form: sft after dpo and grpo edits")["flat"]
    assert sft["dpo_beta"] == 0.4 and TrainRecipe.parse(sft).method.model_dump() == {
        "name": "sft", "packing": False, "completion_only_loss": True}
    with pytest.raises(Exception, match="only SFT packs rows"):
        TrainRecipe.parse({**sft, "method": "dpo", "packing": True})
