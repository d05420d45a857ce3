"""The `trl` command the Train tab shows runs as shown: here on the CPU, on a lab dataset artifact (arena votes)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.chat import arena
from lab.train.build import trl_command
from lab.train.recipe import TrainRecipe

pytestmark = pytest.mark.slow  # ~40 s: the trl CLI's start-up and one DPO step on the bundled model


def test_the_trl_command_runs_on_a_votes_artifact(bundled_model, lab_home, tmp_path):
    prompt = [{"role": "user", "content": "Name a fruit."}]
    for reply, other in (("An apple.", "A chair."), ("A pear.", "Blue.")):
        arena.record_vote(arena.Battle("acme/a", "acme/b"), prompt, reply, other, "a")
    votes = arena.export_preferences("votes")
    recipe = TrainRecipe(method="dpo", model=str(bundled_model), dataset=str(votes), max_steps=1, batch_size=2,
                         max_seq_length=64, lora_r=4, lora_alpha=8, use_cpu=True, save_steps=100)
    command = trl_command(recipe, str(tmp_path / "out"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-c", command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file()
