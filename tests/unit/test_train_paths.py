"""Precision, quantization, checkpointing, attention and packing paths, with the hardware probe faked (a T4, an
A100, a CPU): what each run would be built with, checked without a GPU."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lab.hardware import Gpu, Hardware, set_hardware
from lab.train import build, varlen
from lab.train.recipe import TrainRecipe

CPU = Hardware(ram_gb=24, bnb_ok=True, cpu_count=2)
T4 = Hardware(gpus=(Gpu("Tesla T4", 15.0, (7, 5)),), bnb_ok=True, ram_gb=15)
A100 = Hardware(gpus=(Gpu("NVIDIA A100", 80.0, (8, 0)),), bnb_ok=True, ram_gb=80)


def _args(recipe, hw) -> dict:
    return build._common_args(recipe, Path("/tmp/out"), build.plan(recipe, hw), False, 10)


def test_t4_trains_in_fp16_and_never_bf16():
    for adapter in ("lora", "qlora", "full"):
        r = TrainRecipe(dataset="me/d", adapter=adapter)
        p = build.plan(r, T4)
        assert (p.device, p.precision) == ("cuda", "fp16")
        args = _args(r, T4)
        assert args["fp16"] is True and args["bf16"] is False and args["use_cpu"] is False
    assert build.plan(TrainRecipe(adapter="full"), T4).load_dtype == "fp32"  # fp16 AMP needs fp32 master weights
    assert build.plan(TrainRecipe(adapter="lora"), T4).load_dtype == "fp16"


def test_ampere_and_later_train_in_bf16():
    for hw in (A100, Hardware(gpus=(Gpu("NVIDIA H100", 80.0, (9, 0)),), bnb_ok=True)):
        args = _args(TrainRecipe(dataset="me/d"), hw)
        assert args["bf16"] is True and args["fp16"] is False and args["use_cpu"] is False


def test_cpu_runs_are_fp32_and_flagged_cpu():
    args = _args(TrainRecipe(dataset="me/d"), CPU)
    assert args["bf16"] is False and args["fp16"] is False and args["use_cpu"] is True


def test_no_cpu_only_flag_leaks_into_a_cuda_run(monkeypatch):
    """use_cpu, --use_cpu in the trl command and bitsandbytes' CPU repack fix stay off a GPU run."""
    r = TrainRecipe(dataset="me/d", adapter="qlora")
    assert _args(r, T4)["use_cpu"] is False
    # The trl command runs elsewhere: its CPU flag follows the recipe, never this machine.
    for hw in (T4, CPU):
        set_hardware(hw)
        assert "--use_cpu" not in build.trl_command(r)
        assert "--use_cpu" in build.trl_command(r.model_copy(update={"use_cpu": True}))
    set_hardware(None)
    seen = {}

    class FakeModel:
        config = type("C", (), {"use_cache": True})()

    def fake_load(folder, **kw):
        seen.update(kw)
        return FakeModel()

    monkeypatch.setattr("transformers.AutoModelForCausalLM.from_pretrained", fake_load)
    monkeypatch.setattr(build, "fix_cpu_4bit", lambda m: pytest.fail("the CPU repack fix ran on a GPU plan"))
    build.load_model(Path("x"), r, build.plan(r, T4))
    assert seen["device_map"] == {"": 0} and seen["quantization_config"].bnb_4bit_compute_dtype == torch.float16


def test_qlora_is_nf4_double_quant_with_the_plans_compute_dtype(monkeypatch):
    for hw, dtype in ((T4, torch.float16), (A100, torch.bfloat16)):
        q = build.bnb_config(build.plan(TrainRecipe(adapter="qlora"), hw))
        assert q.load_in_4bit and q.bnb_4bit_quant_type == "nf4" and q.bnb_4bit_use_double_quant
        assert q.bnb_4bit_compute_dtype == dtype
        assert q.bnb_4bit_quant_storage == torch.uint8  # the default, outside FSDP
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    p = build.plan(TrainRecipe(adapter="qlora"), A100)
    assert p.fsdp and build.bnb_config(p).bnb_4bit_quant_storage == torch.bfloat16  # FSDP shards one dtype


def test_a_16_bit_model_loads_straight_to_the_gpu(monkeypatch):
    """A 7B in 16-bit on a t4-small (15 GB of RAM) must never be staged whole in RAM: device_map to the GPU."""
    seen = {}
    monkeypatch.setattr("transformers.AutoModelForCausalLM.from_pretrained",
                        lambda folder, **kw: seen.update(kw) or type("M", (), {"config": type("C", (), {})()})())
    r = TrainRecipe(adapter="lora")
    build.load_model(Path("x"), r, build.plan(r, A100))
    assert seen["device_map"] == {"": 0} and seen["dtype"] == torch.bfloat16
    seen.clear()
    build.load_model(Path("x"), r, build.plan(r, CPU))
    assert "device_map" not in seen


def test_gradient_checkpointing_is_non_reentrant_and_on_by_default_on_gpus():
    assert build.plan(TrainRecipe(), A100).gradient_checkpointing is True
    assert build.plan(TrainRecipe(), CPU).gradient_checkpointing is False
    args = _args(TrainRecipe(gradient_checkpointing="on"), CPU)
    name = next(k for k in args if k in ("activation_checkpointing", "gradient_checkpointing"))
    assert args[name] is True and args[f"{name}_kwargs"] == {"use_reentrant": False}


def test_attention_is_sdpa_or_flash_attention_when_installed(monkeypatch):
    import importlib.util

    assert build.attention(build.plan(TrainRecipe(), A100)) in ("sdpa", "flash_attention_2")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "flash_attn" else None)
    assert build.attention(build.plan(TrainRecipe(), A100)) == "flash_attention_2"
    # flash-attention is GPU-only: padding-free rows attend row by row through SDPA (lab.train.varlen)
    assert build.attention(build.plan(TrainRecipe(), CPU)) == "lab_varlen"
    assert build.attention(build.plan(TrainRecipe(padding_free=False), CPU)) == "sdpa"
    assert build.attention(build.plan(TrainRecipe(method="dpo"), CPU)) == "sdpa"  # DPO pads
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert build.attention(build.plan(TrainRecipe(), A100)) == "sdpa"  # a block-diagonal mask: no device sync


def test_fp16_runs_train_fp32_adapters():
    """TRL casts QLoRA adapters to bf16; fp16 AMP's GradScaler cannot unscale bf16 gradients (seen on the GPU
    check), so under fp16 every trained tensor becomes fp32 and the frozen ones stay as they are."""
    model = torch.nn.Sequential(torch.nn.Linear(4, 4).to(torch.bfloat16), torch.nn.Linear(4, 4).to(torch.float16))
    model[1].requires_grad_(False)
    assert build.fp32_trainable(model) == 2
    assert all(p.dtype == torch.float32 for p in model[0].parameters())
    assert all(p.dtype == torch.float16 for p in model[1].parameters())


def test_packing_is_padding_free_and_packed_rows_do_not_attend_to_each_other(bundled_model):
    """TRL packs with BFD into one padding-free row with position ids; SDPA then keeps the rows apart: each
    row's logits equal those of the row alone."""
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig

    r = TrainRecipe(packing=True, dataset="me/d")
    config = SFTConfig(**_args(r, CPU), packing=r.method.packing)
    assert config.packing and config.packing_strategy in ("bfd", "bfd_split")  # the trainer turns padding-free on
    impl = build.attention(build.plan(r, CPU))
    assert impl == varlen.register()  # packed rows attend row by row
    model = AutoModelForCausalLM.from_pretrained(bundled_model, dtype=torch.float32, attn_implementation=impl)
    a, b = torch.tensor([[1, 422, 3112, 2]]), torch.tensor([[1, 9812, 314, 27, 2]])
    packed = torch.cat([a, b], dim=1)
    positions = torch.cat([torch.arange(a.shape[1]), torch.arange(b.shape[1])]).unsqueeze(0)
    with torch.no_grad():
        together = model(input_ids=packed, position_ids=positions, use_cache=False).logits  # as in training
        alone = [model(input_ids=x, use_cache=False).logits for x in (a, b)]
        leaky = model(input_ids=packed, use_cache=False).logits  # without position ids, b would see a
    assert torch.allclose(together[:, : a.shape[1]], alone[0], atol=1e-4)
    assert torch.allclose(together[:, a.shape[1]:], alone[1], atol=1e-4)
    assert not torch.allclose(leaky[:, a.shape[1]:], alone[1], atol=1e-4)  # the test can fail
