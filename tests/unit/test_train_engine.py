"""The engine and the fast path, without training: the decision (engine, kernels, reasons) for each kind of machine,
the refusal of `engine: unsloth` where it cannot run (before anything loads), the recipe fields, the CLI flags,
the form, the TRL arguments they become, the memory estimate, the token count, the log pacing and the card."""
import dataclasses
import json
from pathlib import Path

import pytest
import torch

from lab.errors import LabError
from lab.hardware import Gpu, Hardware, set_hardware
from lab.train import build, engine, finish, memory, preflight
from lab.train.engine import Facts
from lab.train.lengths import Lengths
from lab.train.recipe import TrainRecipe, describe
from lab.train.tokens import TokenCounter, real_tokens

CPU = Hardware(ram_gb=24, bnb_ok=True, cpu_count=2)
A100 = Hardware(gpus=(Gpu("A100", 80.0, (8, 0)),), bnb_ok=True, ram_gb=64)
GPU_ALL = Facts(cuda=True, unsloth=True, liger=True, vllm=True, model_type="llama")


def test_recipe_fields_defaults_and_help():
    r = TrainRecipe()
    assert (r.engine, r.padding_free, r.liger) == ("auto", True, "auto")
    assert "Unsloth" in describe("engine") and "position ids" in describe("padding_free")
    assert "Liger" in describe("liger")
    with pytest.raises(LabError) as err:
        TrainRecipe.parse({"engine": "deepspeed"})
    assert err.value.field == "engine"
    assert TrainRecipe.from_yaml(TrainRecipe(engine="trl", liger="off", padding_free=False).to_yaml()).liger == "off"


def test_cpu_runs_trl_with_padding_free_sft_and_says_why():
    d = engine.decide(TrainRecipe(), Facts(model_type="llama"))
    assert d.engine == "trl" and d.kernels == ("padding_free",)
    assert "Unsloth is not used because Unsloth is not installed" in d.reasons[0]
    assert any("need a CUDA GPU" in r for r in d.reasons) and not d.warnings  # auto: no warning
    assert engine.decide(TrainRecipe(padding_free=False), Facts()).kernels == ()
    packed = engine.decide(TrainRecipe(packing=True), Facts())
    assert packed.kernels == ("packing",)  # packing is padding-free already
    dpo = engine.decide(TrainRecipe(method="dpo"), Facts())
    assert "padding_free" not in dpo.kernels and any("SFT only" in r for r in dpo.reasons)


def test_auto_picks_unsloth_only_where_it_can_train():
    assert engine.decide(TrainRecipe(adapter="qlora"), GPU_ALL).engine == "unsloth"
    for method in ("dpo", "grpo"):
        assert engine.decide(TrainRecipe(method=method, rewards=["exact"]) if method == "grpo" else
                             TrainRecipe(method=method), GPU_ALL).engine == "unsloth"
    cases = {"full fine-tune": (TrainRecipe(adapter="full"), GPU_ALL),
             "KTO": (TrainRecipe(method="kto"), GPU_ALL),
             "gpt2": (TrainRecipe(), dataclasses.replace(GPU_ALL, model_type="gpt2")),
             "not installed": (TrainRecipe(), dataclasses.replace(GPU_ALL, unsloth=False)),
             "no CUDA": (TrainRecipe(), dataclasses.replace(GPU_ALL, cuda=False)),
             "multi-process": (TrainRecipe(), dataclasses.replace(GPU_ALL, world=2))}
    for name, (recipe, facts) in cases.items():
        d = engine.decide(recipe, facts)
        assert d.engine == "trl", name
        assert d.reasons[0].startswith("Engine TRL (auto): Unsloth is not used because"), name
    assert engine.decide(TrainRecipe(engine="trl"), GPU_ALL).engine == "trl"


def test_liger_on_a_gpu_where_installed_and_the_model_is_patched():
    trl_gpu = dataclasses.replace(GPU_ALL, unsloth=False)
    assert "liger" in engine.decide(TrainRecipe(), trl_gpu).kernels
    assert "liger" not in engine.decide(TrainRecipe(liger="off"), trl_gpu).kernels
    assert "liger" not in engine.decide(TrainRecipe(), GPU_ALL).kernels  # Unsloth brings its own kernels
    other = engine.decide(TrainRecipe(), dataclasses.replace(trl_gpu, model_type="gpt2"))
    assert "liger" not in other.kernels and "does not patch gpt2" in other.warnings[0]  # the log says so
    asked = engine.decide(TrainRecipe(liger="on"), Facts(model_type="llama"))
    assert "liger" not in asked.kernels and "CUDA" in asked.warnings[0]
    missing = engine.decide(TrainRecipe(liger="on"), dataclasses.replace(trl_gpu, liger=False))
    assert "pip install liger-kernel" in missing.warnings[0]


def test_grpo_generates_with_vllm_on_cuda_only():
    grpo = TrainRecipe(method="grpo", rewards=["exact"], engine="trl")
    assert "vllm" in engine.decide(grpo, GPU_ALL).kernels
    assert "vllm" not in engine.decide(grpo, Facts(vllm=True)).kernels
    assert engine.vllm_args(cuda=False) == {}
    assert engine.vllm_args(cuda=True) == ({"use_vllm": True, "vllm_mode": "colocate"}
                                           if engine.facts(True).vllm else {})


def test_unsloth_refused_naming_what_is_missing_and_what_auto_picks():
    err = engine.refusal(TrainRecipe(engine="unsloth", method="kto"), Facts(model_type="gpt2"))
    text = f"{err} {err.fix}"
    assert err.field == "engine"
    for part in ("Unsloth is not installed", "no CUDA GPU", "KTO on TRL only", "does not support gpt2",
                 "auto (here it would pick TRL"):
        assert part in text, part
    assert engine.refusal(TrainRecipe(engine="unsloth"), GPU_ALL) is None
    assert engine.refusal(TrainRecipe(engine="auto"), Facts()) is None


def test_preflight_refuses_unsloth_before_reading_the_data(bundled_model, tmp_path):
    recipe = TrainRecipe(engine="unsloth", model=str(bundled_model), dataset=str(tmp_path / "absent.jsonl"))
    with pytest.raises(LabError) as err:
        preflight.check(recipe, CPU)  # the dataset does not exist: the engine is refused first
    assert err.value.field == "engine" and "no CUDA GPU" in str(err.value)
    assert "would pick TRL with padding_free" in err.value.fix


def test_cli_flags():
    from lab.__main__ import build_parser
    from lab.train.cli import recipe_from_args

    args = build_parser().parse_args(["train", "--model", "m/x", "--dataset", "d/y", "--engine", "trl",
                                      "--no-padding-free", "--liger", "off"])
    r = recipe_from_args(args)
    assert (r.engine, r.padding_free, r.liger) == ("trl", False, "off")
    r = recipe_from_args(build_parser().parse_args(["train", "--model", "m/x", "--padding-free"]))
    assert r.padding_free is True and r.engine == "auto"


def test_form_has_the_three_fields():
    from lab.train import panel
    from lab.ui.train_tab import GROUPS

    speed = dict(GROUPS)["Engine and speed"]
    assert speed == ["engine", "padding_free", "liger"]
    assert panel.field_kind("engine") == ("radio", ["auto", "trl", "unsloth"])
    assert panel.field_kind("padding_free")[0] == "check"
    values = panel.form_from_recipe(TrainRecipe(engine="trl", padding_free=False))
    assert panel.recipe_from_form(values) == TrainRecipe(engine="trl", padding_free=False)


def test_plan_carries_the_decision_into_trl_arguments():
    set_hardware(A100)
    p = build.plan(TrainRecipe(), A100, "llama")
    assert p.engine == "trl" and p.kernels[0] == "padding_free" and "trl" in p.summary()
    liger = dataclasses.replace(p, kernels=("padding_free", "liger"))
    assert build._common_args(TrainRecipe(), Path("/tmp/o"), liger, False, 10)["use_liger_kernel"] is True
    assert build._common_args(TrainRecipe(), Path("/tmp/o"), p, False, 10)["use_liger_kernel"] is False
    unsloth = dataclasses.replace(p, engine="unsloth")
    args = build._common_args(TrainRecipe(), Path("/tmp/o"), unsloth, False, 10)
    assert not any(v is True for k, v in args.items() if k.endswith("checkpointing"))  # Unsloth checkpoints itself
    assert preflight.engine_of(p)["kernels"] == list(p.kernels)
    set_hardware(None)


def _mixed(n=200, seed=1) -> Lengths:
    import random

    rng = random.Random(seed)
    return Lengths(tuple(int(32 * 32 ** rng.random()) for _ in range(n)), n, True)  # 32..1024, log-uniform


def test_memory_estimate_learns_padding_free_and_liger(bundled_model):
    from lab.models.info import read_config

    recipe = TrainRecipe(batch_size=8, max_seq_length=1024)
    lens = _mixed()
    cpu = build.plan(recipe, CPU)
    padded = dataclasses.replace(cpu, kernels=())
    prof = memory.profile_for(read_config(bundled_model), recipe, cpu)
    pf, pd = (memory.estimate(prof, recipe, p, lens, 200, "jemalloc") for p in (cpu, padded))
    assert pf["batch"]["sequences"] == 1 and pd["batch"]["sequences"] == 8
    assert pf["batch"]["tokens"] < 0.7 * pd["batch"]["tokens"]  # no padding: the fullest batch's real tokens
    assert pf["batch"]["tokens"] >= lens.longest_batch(1024, 200)
    assert pf["parts_gb"]["activations"] < pd["parts_gb"]["activations"]
    gpu = build.plan(recipe, A100)
    liger = dataclasses.replace(gpu, kernels=gpu.kernels + ("liger",), gradient_checkpointing=False)
    plain = dataclasses.replace(liger, kernels=gpu.kernels)
    with_l, without = (memory.estimate(prof, recipe, p, lens, 200) for p in (liger, plain))
    assert with_l["parts_gb"]["activations"] < without["parts_gb"]["activations"]
    assert with_l["parts_gb"]["LM head"] == without["parts_gb"]["LM head"]  # TRL keeps its own chunked head


def test_padding_free_batch_size_from_lengths():
    lens = _mixed()
    one = Lengths((100, 200, 300), 3, True)
    assert one.padding_free_batch(1024, 4, 3) == 600  # one batch holds every row
    assert one.padding_free_batch(250, 4, 3) == 550  # rows are cut at max_seq_length
    big = lens.padding_free_batch(1024, 8, 200)
    assert lens.padding_free_batch(1024, 8, 200) == big  # seeded: the same every time
    assert big <= 8 * lens.longest_batch(1024, 200)


def test_tokens_are_counted_on_the_cpu_from_the_collated_batch():
    padded = {"input_ids": torch.zeros(2, 5, dtype=torch.long),
              "attention_mask": torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])}
    free = {"input_ids": torch.zeros(1, 8, dtype=torch.long), "position_ids": torch.tensor([[0, 1, 2, 0, 1, 2, 3, 4]])}
    pairs = {"chosen_attention_mask": torch.ones(2, 3), "rejected_attention_mask": torch.ones(2, 2)}
    assert (real_tokens(padded), real_tokens(free), real_tokens(pairs), real_tokens([{"p": 1}])) == (8, 8, 10, None)
    batches = iter([padded, free, padded])
    counter = TokenCounter(lambda rows: next(batches))
    counter([]), counter([])
    counter.mark()  # a step ended with one batch fetched ahead
    counter([])  # an evaluation's batch
    counter.drop_since_mark()
    assert (counter.take(), counter.take(), counter.take()) == (8, 8, None)


class _State:
    def __init__(self, step, max_steps=10):
        self.global_step, self.max_steps, self.num_input_tokens_seen = step, max_steps, 0


class _Control:
    should_log = should_save = should_training_stop = False


class _Ctx:
    folder, cancelled = None, False

    def __init__(self):
        self.rows = []

    def metric(self, **row):
        self.rows.append(row)

    def progress(self, *a, **k):
        pass

    def log(self, msg):
        pass


def test_gpu_runs_log_in_batches_cpu_runs_every_step():
    from lab.train.callbacks import LabCallback

    for every_s, logged in ((0.0, [1, 2, 3, 10]), (3600.0, [1, 10])):
        ctx = _Ctx()
        cb = LabCallback(ctx, device="", log_every_s=every_s)
        counter = cb.counter = TokenCounter(lambda rows: {"attention_mask": torch.ones(1, 7)})
        cb.on_train_begin(None, _State(0), _Control())
        for step in (1, 2, 3, 10):
            counter([])
            control = _Control()
            control.should_log = True
            cb.on_step_end(None, _State(step), control)
            if control.should_log:
                cb.on_log(None, _State(step), control, logs={"loss": 1.0})
        assert [r["step"] for r in ctx.rows] == logged
        assert sum(r["tokens"] for r in ctx.rows) == 4 * 7  # the batched row counts every step's tokens


def test_final_json_tokens_per_s_over_logged_intervals():
    rows = [{"step": 1, "loss": 2.0, "step_time": 1.0, "tokens": 100},
            {"step": 5, "loss": 1.5, "step_time": 0.5, "tokens": 800},  # four steps of 0.5 s
            {"step": 5, "eval_loss": 1.6}]
    assert finish.tokens_per_s(rows) == round(900 / 3.0, 1)
    assert finish.final_metrics(rows, 5)["tokens_per_s"] == 300.0
    assert finish.final_metrics([{"step": 1, "loss": 1.0, "step_time": 1.0}], 1)["tokens_per_s"] is None


def test_card_records_engine_and_kernels(tmp_path):
    from lab.artifacts import finalize

    finalize(tmp_path, "adapter", [], metrics={"steps": 1}, extra={"engine": "trl", "kernels": ["padding_free"]})
    assert "Trained with **trl** (kernels: padding_free)" in (tmp_path / "README.md").read_text()
    assert json.loads((tmp_path / "lab.json").read_text())["kernels"] == ["padding_free"]


def test_vllm_arguments_are_grpo_config_fields():
    from trl import GRPOConfig

    fields = GRPOConfig.__dataclass_fields__
    assert {"use_vllm", "vllm_mode"} <= set(fields) and fields["vllm_mode"].default == "colocate"


def test_the_train_tab_says_which_engine_and_why(tmp_path):
    from lab.train import panel

    ran = preflight.engine_of(build.plan(TrainRecipe(), CPU, "llama"))
    text = panel.engine_text(ran)
    assert text.startswith("**Engine:** trl · kernels: padding_free.") and "Unsloth is not used because" in text
    (tmp_path / "preflight.json").write_text(json.dumps({"engine": ran}))
    assert panel._engine_line(tmp_path) == "\n\n" + text and panel._engine_line(tmp_path / "none") == ""


def test_an_unsloth_that_does_not_import_stops_the_run_before_loading(bundled_model, monkeypatch):
    import importlib.util

    from lab.train import unsloth_engine

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "unsloth" else real(name, *a))
    set_hardware(A100)
    recipe = TrainRecipe(model=str(bundled_model))
    with pytest.raises(LabError) as err:
        unsloth_engine.preload(recipe)  # auto picks Unsloth (found, a GPU, a Llama); importing it fails
    assert err.value.field == "engine" and "does not import" in str(err.value)
    assert unsloth_engine.preload(recipe.updated(engine="trl")) is False
    set_hardware(CPU)
    assert unsloth_engine.preload(recipe) is False  # no GPU: never imported
    set_hardware(None)
