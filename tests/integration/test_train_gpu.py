"""The CUDA paths on a real GPU (skipped on CPU): precision from the probe, QLoRA in 4-bit, a real OOM."""
import json

import pytest

from lab.errors import LabError
from lab.hardware import get_hardware
from lab.train import build
from lab.jobs.local import LocalContext
from lab.train.recipe import TrainRecipe
from lab.train.worker import train
from tests.integration.test_train import short_alpaca

pytestmark = pytest.mark.gpu


def test_precision_follows_the_real_gpu():
    import torch

    hw = get_hardware()
    p = build.plan(TrainRecipe(), hw)
    expected = "bf16" if torch.cuda.get_device_capability() >= (8, 0) else "fp16"
    assert p.device == "cuda" and p.precision == expected and p.gradient_checkpointing
    assert hw.bnb_ok, hw.bnb_error


def test_qlora_on_the_gpu(bundled_model, alpaca_path, tmp_path):
    import torch

    data = tmp_path / "mini.json"
    data.write_text(json.dumps(short_alpaca(alpaca_path, 8)))
    recipe = TrainRecipe(model=str(bundled_model), dataset=str(data), adapter="qlora", max_steps=3, batch_size=4,
                         max_seq_length=128, learning_rate=1e-3, save_steps=100, merge=True)
    out = tmp_path / "qlora-gpu"
    result = train(recipe, out, LocalContext(out))
    plan = json.loads((out / "preflight.json").read_text())["plan"]
    assert result["steps"] == 3 and "CUDA" in plan and "4-bit nf4" in plan
    merged = json.loads((tmp_path / "qlora-gpu-merged" / "config.json").read_text())
    assert "quantization_config" not in merged and merged["dtype"] in ("bfloat16", "float16")
    torch.cuda.empty_cache()


def test_a_real_out_of_memory_fails_with_a_hint(bundled_model, alpaca_path, tmp_path):
    import torch

    recipe = TrainRecipe(model=str(bundled_model), dataset=str(alpaca_path), max_rows=64, max_steps=2,
                         batch_size=64, max_seq_length=256, gradient_checkpointing="off")
    # 0.6 GB: the bf16 weights fit, a batch of 64 × 256 tokens does not
    torch.cuda.set_per_process_memory_fraction(0.6e9 / torch.cuda.get_device_properties(0).total_memory)
    try:
        with pytest.raises(LabError) as err:
            train(recipe, tmp_path / "oom", LocalContext(tmp_path / "oom"))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()
    assert err.value.field == "batch_size" and "GPU out of memory" in str(err.value)


def test_the_fast_path_on_the_gpu(bundled_model, alpaca_path, tmp_path):
    """auto on a GPU: padding-free SFT, Liger where installed (SmolLM2 is a Llama), the engine recorded."""
    import importlib.util

    data = tmp_path / "mini.json"
    data.write_text(json.dumps(short_alpaca(alpaca_path, 8)))
    recipe = TrainRecipe(model=str(bundled_model), dataset=str(data), max_steps=3, batch_size=4, max_seq_length=128,
                         learning_rate=1e-3, save_steps=100, engine="trl")
    out = tmp_path / "fast-gpu"
    result = train(recipe, out, LocalContext(out))
    expected = ["padding_free"] + (["liger"] if importlib.util.find_spec("liger_kernel") else [])
    assert result["engine"] == "trl" and result["kernels"] == expected and result["tokens_per_s"] > 0


@pytest.mark.skipif(not __import__("importlib").util.find_spec("unsloth"), reason="unsloth is not installed")
def test_unsloth_engine_trains_lora(bundled_model, alpaca_path, tmp_path):
    data = tmp_path / "mini.json"
    data.write_text(json.dumps(short_alpaca(alpaca_path, 8)))
    recipe = TrainRecipe(model=str(bundled_model), dataset=str(data), max_steps=3, batch_size=4, max_seq_length=128,
                         learning_rate=1e-3, save_steps=100, engine="unsloth", lora_dropout=0.0)
    out = tmp_path / "unsloth-gpu"
    result = train(recipe, out, LocalContext(out))
    assert result["engine"] == "unsloth" and result["steps"] == 3 and result["last_loss"] < 100
    assert (out / "adapter_model.safetensors").is_file()
