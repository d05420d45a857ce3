"""TrainRecipe, presets, the hardware plan (real CPU and faked GPUs), configs and the `trl` command line."""
import math

import pytest
import yaml

from lab.errors import LabError
from lab.hardware import Gpu, Hardware, set_hardware
from lab.train import build
from lab.train.recipe import PRESETS, TrainRecipe, describe, preset

T4 = Hardware(gpus=(Gpu("Tesla T4", 15.0, (7, 5)),), bnb_ok=True, ram_gb=16)
A10G = Hardware(gpus=(Gpu("NVIDIA A10G", 22.0, (8, 6)),), bnb_ok=True, ram_gb=32)
CPU = Hardware(ram_gb=24, bnb_ok=True, cpu_count=2)


def test_yaml_round_trip_and_help_text():
    r = TrainRecipe(dataset="data.jsonl", method="dpo", adapter="qlora", learning_rate=5e-6, max_rows=100)
    back = TrainRecipe.from_yaml(r.to_yaml())
    assert back == r
    assert yaml.safe_load(r.to_yaml())["adapter"] == "qlora"
    for name in TrainRecipe.model_fields:
        assert len(describe(name)) > 20, name  # every field explains itself (the UI's info=)


def test_presets_are_valid_and_distinct():
    assert set(PRESETS) == {"QLoRA on a T4/A10G", "LoRA 16-bit", "Full fine-tune", "DPO with LoRA",
                            "GRPO: teach an answer format", "KTO from arena votes",
                            "Reward model from preference pairs"}
    made = {name: preset(name, dataset="d.json") for name in PRESETS}
    assert made["QLoRA on a T4/A10G"].adapter == "qlora"
    assert made["Full fine-tune"].adapter == "full" and made["Full fine-tune"].learning_rate < 1e-4
    assert made["DPO with LoRA"].method.name == "dpo" and made["DPO with LoRA"].learning_rate < 1e-5
    grpo = made["GRPO: teach an answer format"]
    assert grpo.method.name == "grpo" and [r.name for r in grpo.method.rewards] == ["format", "exact"]
    assert made["KTO from arena votes"].method.name == "kto"
    assert made["Reward model from preference pairs"].method.name == "reward"
    with pytest.raises(LabError):
        preset("nope")


@pytest.mark.parametrize("data, field", [
    ({"learning_rate": 0}, "learning_rate"),
    ({"adapter": "8bit"}, "adapter"),
    ({"push_to": "not a repo"}, "push_to"),
    ({"method": "dpo", "packing": True}, "packing"),
    ({"push_checkpoints_to": "me/ckpts", "save_total_limit": 1}, "save_total_limit"),
    ({"bogus": 1}, "bogus"),
])
def test_bad_fields_are_named(data, field):
    with pytest.raises(LabError) as err:
        TrainRecipe.parse(data)
    assert err.value.field == field and field in str(err.value)


def test_yaml_errors_are_lab_errors():
    with pytest.raises(LabError, match="YAML"):
        TrainRecipe.from_yaml("a: [1,")


def test_plan_follows_the_hardware():
    lora, full, qlora = TrainRecipe(), TrainRecipe(adapter="full"), TrainRecipe(adapter="qlora")
    p = build.plan(lora, CPU)
    assert (p.device, p.precision, p.load_dtype, p.gradient_checkpointing) == ("cpu", "fp32", "fp32", False)
    p = build.plan(lora, T4)
    assert (p.device, p.precision, p.load_dtype, p.gradient_checkpointing) == ("cuda", "fp16", "fp16", True)
    assert build.plan(full, T4).load_dtype == "fp32"  # fp16 AMP needs fp32 master weights
    assert build.plan(full, A10G).load_dtype == "bf16" and build.plan(full, A10G).precision == "bf16"
    assert build.plan(qlora, A10G).four_bit
    assert build.plan(TrainRecipe(use_cpu=True), A10G).device == "cpu"
    assert build.plan(TrainRecipe(gradient_checkpointing="off"), A10G).gradient_checkpointing is False
    assert build.plan(TrainRecipe(gradient_checkpointing="on"), CPU).gradient_checkpointing is True


def test_bnb_config_compute_dtype_from_the_probe():
    import torch

    cfg = build.bnb_config(build.plan(TrainRecipe(adapter="qlora"), A10G))
    assert cfg.load_in_4bit and cfg.bnb_4bit_quant_type == "nf4" and cfg.bnb_4bit_use_double_quant
    assert cfg.bnb_4bit_compute_dtype == torch.bfloat16
    assert build.bnb_config(build.plan(TrainRecipe(adapter="qlora"), T4)).bnb_4bit_compute_dtype == torch.float16


def test_precision_flags_are_always_explicit(tmp_path):
    """TRL defaults to bf16=True and gradient checkpointing on, even on CPU: the lab sets both itself."""
    args = build.training_args(TrainRecipe(), tmp_path, build.plan(TrainRecipe(), CPU))
    assert args.bf16 is False and args.fp16 is False and args.gradient_checkpointing is False and args.use_cpu
    assert args.ddp_find_unused_parameters is False and args.logging_steps == 1
    kw = build._common_args(TrainRecipe(), tmp_path, build.plan(TrainRecipe(), T4), False, 10)
    assert (kw["fp16"], kw["bf16"], kw["activation_checkpointing"], kw["use_cpu"]) == (True, False, True, False)
    kw = build._common_args(TrainRecipe(), tmp_path, build.plan(TrainRecipe(), A10G), False, 10)
    assert (kw["fp16"], kw["bf16"]) == (False, True)
    dpo = build.training_args(TrainRecipe(method="dpo", dpo_beta=0.2, dpo_loss="ipo"), tmp_path,
                              build.plan(TrainRecipe(), CPU))
    assert dpo.beta == 0.2 and dpo.loss_type == ["ipo"] and dpo.bf16 is False


def test_lora_config():
    cfg = build.lora_config(TrainRecipe(lora_r=8, lora_alpha=16, target_modules="q_proj, v_proj"))
    assert cfg.r == 8 and cfg.lora_alpha == 16 and set(cfg.target_modules) == {"q_proj", "v_proj"}
    assert build.lora_config(TrainRecipe()).target_modules == "all-linear"


def test_trl_command_line():
    set_hardware(CPU)
    cmd = build.trl_command(TrainRecipe(dataset="me/data", adapter="qlora", max_steps=20))
    assert cmd.startswith("trl sft ") and "--use_peft" in cmd and "--load_in_4bit" in cmd
    assert "--max_steps 20" in cmd
    dpo = build.trl_command(TrainRecipe(dataset="me/prefs", method="dpo", dpo_beta=0.3))
    assert dpo.startswith("trl dpo ") and "--beta 0.3" in dpo and "--load_in_4bit" not in dpo
    assert "--use_peft" not in build.trl_command(TrainRecipe(dataset="x/y", adapter="full"))


def test_trl_command_follows_the_recipe_not_this_machine():
    """The command is for the machine it will run on: the app's own hardware changes nothing in it."""
    for recipe in (TrainRecipe(dataset="me/data"), TrainRecipe(dataset="me/data", use_cpu=True)):
        commands = set()
        for hw in (CPU, T4, A10G):
            set_hardware(hw)
            commands.add(build.trl_command(recipe))
        assert len(commands) == 1, commands
    set_hardware(CPU)
    gpu, cpu = build.trl_command(TrainRecipe(dataset="x/y")), build.trl_command(TrainRecipe(dataset="x/y",
                                                                                           use_cpu=True))
    assert "--bf16 True" in gpu and "--use_cpu" not in gpu.splitlines()[0] and "--fp16 True" in gpu  # (the T4 hint)
    assert "--use_cpu" in cpu and "--bf16 False" in cpu and "--gradient_checkpointing False" in cpu


def test_oom_becomes_a_clean_failure_with_the_numbers():
    import torch

    from lab.train.memory_guard import oom_guard

    with pytest.raises(LabError) as err:
        with oom_guard("cpu", lambda: 2, 13.5):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    text = str(err.value)
    assert err.value.field == "batch_size" and "GPU out of memory" in text and "at step 2 (estimate 13.5 GB)" in text
    assert "lower the batch size or the sequence length" in text and "stopped at " in text
    with pytest.raises(LabError, match="CPU out of memory"):
        with oom_guard("cpu", lambda: None, None):
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes")
    with pytest.raises(RuntimeError, match="shape mismatch"):
        with oom_guard("cpu", lambda: 1, 1.0):
            raise RuntimeError("shape mismatch")


class _Ctx:
    def __init__(self):
        self.rows, self.logs, self.cancelled = [], [], False

    def metric(self, **kw):
        self.rows.append(kw)

    def log(self, msg):
        self.logs.append(msg)

    def progress(self, *a, **k):
        pass


def test_non_finite_loss_stops_without_saving():
    from transformers import TrainerControl, TrainerState

    from lab.train.callbacks import LabCallback

    ctx = _Ctx()
    cb = LabCallback(ctx)
    state, control = TrainerState(global_step=3, max_steps=10), TrainerControl(should_save=True)
    cb.on_train_begin(None, state, control)
    cb.on_step_end(None, state, control)
    cb.on_log(None, state, control, logs={"loss": 1.5, "grad_norm": 0.4, "learning_rate": 1e-4})
    assert ctx.rows[-1]["loss"] == 1.5 and ctx.rows[-1]["lr"] == 1e-4 and ctx.rows[-1]["step"] == 3
    state.global_step = 4
    control.should_save = True
    cb.on_log(None, state, control, logs={"loss": float("nan"), "grad_norm": 0.4})
    assert control.should_training_stop and not control.should_save and cb.stopped_nonfinite == 4
    assert len(ctx.rows) == 1  # the NaN row is not recorded
    cb2 = LabCallback(_Ctx())
    c2 = TrainerControl()
    cb2.on_log(None, TrainerState(global_step=2), c2, logs={"loss": 1.0, "grad_norm": float("inf")})
    assert c2.should_training_stop  # fp32/bf16: an infinite gradient norm poisons the weights
    cb3 = LabCallback(_Ctx(), fp16=True)
    c3 = TrainerControl()
    cb3.on_log(None, TrainerState(global_step=2), c3, logs={"loss": 1.0, "grad_norm": float("inf")})
    assert not c3.should_training_stop  # fp16: the loss scaler skips that step by design


def test_cancel_saves_a_checkpoint_then_stops():
    from transformers import TrainerControl, TrainerState

    from lab.train.callbacks import LabCallback

    ctx = _Ctx()
    cb = LabCallback(ctx)
    state, control = TrainerState(global_step=5, max_steps=10), TrainerControl()
    cb.on_train_begin(None, state, control)
    ctx.cancelled = True
    cb.on_step_end(None, state, control)
    assert control.should_save and control.should_training_stop and cb.cancelled


def test_lr_suggestion_on_a_known_curve():
    from lab.train.lr_finder import LrSweep, rates, suggest

    lrs = rates(LrSweep(steps=40, min_lr=1e-6, max_lr=1.0))
    assert math.isclose(lrs[0], 1e-6) and math.isclose(lrs[-1], 1.0)
    # flat, then falling, bottom near 1e-2, then exploding
    losses = [2.0 if lr < 1e-4 else max(0.5, 2.0 - 0.6 * math.log10(lr / 1e-4) * 1.25) if lr <= 1e-2
              else 0.5 * (lr / 1e-2) ** 2 for lr in lrs]
    out = suggest(lrs, losses)
    assert 3e-3 < out["lr_at_min"] < 5e-2
    assert math.isclose(out["suggestion"], float(f"{out['lr_at_min'] / 4:.3g}"))
    assert out["diverged_at"] > out["lr_at_min"]
    assert suggest(lrs[:2], losses[:2])["suggestion"] is None


def test_cli_quick_path_and_trl_command(tmp_path, capsys):
    from lab.__main__ import build_parser, main
    from lab.train.cli import recipe_from_args

    set_hardware(CPU)
    args = build_parser().parse_args(["train", "--method", "dpo", "--model", "m/x", "--dataset", "d/y", "--adapter",
                                      "qlora", "--max-steps", "7", "--lr", "1e-5", "--out", str(tmp_path / "o")])
    r = recipe_from_args(args)
    assert (r.method.name, r.model, r.dataset, r.adapter, r.max_steps, r.learning_rate) == ("dpo", "m/x", "d/y",
                                                                                           "qlora", 7, 1e-5)
    path = tmp_path / "r.yaml"
    path.write_text(TrainRecipe(dataset="me/data", max_steps=3).to_yaml())
    assert main(["train", str(path), "--max-steps", "9", "--trl-command"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("trl sft ") and "--max_steps 9" in out and "--dataset_name me/data" in out
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2  # a LabError: exit code 2, message on stderr
    assert "No recipe file" in capsys.readouterr().err
