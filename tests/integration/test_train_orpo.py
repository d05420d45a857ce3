"""ORPO on the real bundled SmolLM2 on CPU: a short LoRA run on real preference pairs.

The run must do to the weights what training promises (the LoRA weights moved, every frozen weight stayed
bit-identical), keep its loss finite, record ORPO's own metrics and write an adapter artifact with its card.
"""
import json
import math
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see lab.jobs.worker_setup.passive_threads

import pytest  # noqa: E402

from lab.artifacts import read_manifest  # noqa: E402
from lab.jobs.local import LocalContext  # noqa: E402
from lab.train.recipe import TrainRecipe  # noqa: E402
from lab.train.worker import train  # noqa: E402
from tests.integration.test_train import Watch, short_dpo  # noqa: E402
from tests.integration.test_train_methods import assert_only_trainable_moved  # noqa: E402

pytestmark = pytest.mark.slow


def test_orpo_lora_trains_on_preference_pairs(bundled_model, dpo_path, lab_home, tmp_path):
    data = tmp_path / "pairs.json"
    data.write_text(json.dumps(short_dpo(dpo_path, 4)))  # the four shortest real preference pairs
    recipe = TrainRecipe(method="orpo", orpo_beta=0.2, model=str(bundled_model), dataset=str(data), max_steps=2,
                         batch_size=2, learning_rate=1e-3, max_seq_length=128, warmup_ratio=0.0,
                         scheduler="constant", lora_r=8, lora_alpha=16, save_steps=100)
    out = tmp_path / "orpo-out"
    watch = Watch()
    result = train(recipe, out, LocalContext(out), callbacks=(watch,))
    assert_only_trainable_moved(watch)
    metrics = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [m["loss"] for m in metrics if "loss" in m]
    assert [m["step"] for m in metrics if "loss" in m] == [1, 2] and all(math.isfinite(x) for x in losses)
    assert all("log_odds_ratio" in m and "nll_loss" in m for m in metrics if "loss" in m)  # ORPO's own terms
    assert result["steps"] == 2 and result["last_loss"] == losses[-1]
    manifest = read_manifest(out)
    assert manifest["kind"] == "adapter" and manifest["method"] == "orpo" and "orpo" in manifest["tags"]
    assert (out / "adapter_model.safetensors").is_file()
    assert TrainRecipe.from_yaml((out / "recipe.yaml").read_text()).method.beta == 0.2
