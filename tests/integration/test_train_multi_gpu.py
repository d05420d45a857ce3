"""Several GPUs (skipped with fewer than 2): the CLI launches DDP, FSDP with LoRA and FSDP with QLoRA itself."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab.hardware import get_hardware
from lab.train.recipe import TrainRecipe
from tests.integration.test_train import short_alpaca

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(len(get_hardware().gpus) < 2, reason="needs 2 or more GPUs")]


@pytest.mark.parametrize("how,adapter", [("ddp", "lora"), ("fsdp", "lora"), ("fsdp", "qlora")])
def test_two_gpus(how, adapter, bundled_model, alpaca_path, tmp_path):
    data = tmp_path / "mini.json"
    data.write_text(json.dumps(short_alpaca(alpaca_path, 16)))
    recipe = TrainRecipe(model=str(bundled_model), dataset=str(data), adapter=adapter, max_steps=3, batch_size=2,
                         max_seq_length=128, save_steps=100)
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe.to_yaml())
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "lab", "train", str(path), "--num-processes", "2", "--distributed",
                           how, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert result["steps"] == 3 and (out / "adapter_model.safetensors").is_file()
    ranks = [json.loads((out / ".ranks" / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world_size"] == 2 for r in ranks)
    assert ("FSDP" if how == "fsdp" else "MULTI_GPU") in (out / ".launch" / "accelerate.yaml").read_text()
