"""Train methods (issue 17): GRPO and KTO through the lab against raw TRL scripts, and GRPO learning a format.

- GRPO step time (LoRA, batch 8 = 2 prompts × 4 sampled answers of up to 16 tokens, format + exact rewards on
  the lab's arithmetic set): the lab's job (bench/sides/train_job.py) vs a GRPOTrainer script with the same
  config and the rewards written as plain functions (bench/baselines/trl_grpo.py). A GRPO step includes the
  generation of its answers.
- KTO step time (LoRA, batch 4, sequence 256, the DPO demo's pairs unpaired: chosen up, rejected down): the
  lab's job vs a KTOTrainer script (bench/baselines/trl_kto.py).
- GRPO on the bundled model with the preset "GRPO: teach an answer format" for 60 steps: the mean total reward
  over the first and the last 10 % of steps. The lab side alone; it must rise.
Both sides run with OMP_WAIT_POLICY=PASSIVE (see bench/suites/train.py).
"""
from __future__ import annotations

from bench.core import PYTHON, Pair, side
from bench.suites.train import CONVERT, DATA, ENV, FOLDER

ARITH = "{tmp}/home/artifacts/arithmetic-sums/data.jsonl"
WRITE_ARITH = f"{PYTHON} -c 'from lab.train import arith; arith.ensure()'"
SETUP = ["bash", "-c", " ".join(map(str, CONVERT)) + " && " + WRITE_ARITH]
FORMAT = r"format:^\s*<answer>\s*-?\d+\s*</answer>\s*$"
GRPO = ["--generations", 4, "--completion", 16]


def _grpo_lab(steps: int, extra: dict | None = None) -> list[str]:
    import json

    fields = {"scheduler": "constant", "warmup_ratio": 0.0, **(extra or {})}
    return side("sides/train_job.py", "--method", "grpo", "--model", FOLDER, "--data", ARITH, "--steps", steps,
                "--batch", 8, "--seq", 256, "--lr", 2e-4, "--reward", FORMAT, "--reward", "exact", *GRPO,
                "--recipe-extra", json.dumps(fields))


def pairs(quick: bool) -> list[Pair]:
    steps = 5 if quick else 12
    kto_steps, seq = (5, 128) if quick else (20, 256)
    kto_common = ["--model", FOLDER, "--data", DATA / "dpo_en_demo.json", "--steps", kto_steps, "--batch", 4,
                  "--seq", seq, "--lr", 5e-6]
    return [
        Pair("train_grpo_lora", _grpo_lab(steps),
             side("baselines/trl_grpo.py", "--model", FOLDER, "--data", ARITH, "--steps", steps, "--batch", 8,
                  "--lr", 2e-4, *GRPO),
             reps=3, quick_reps=1, compare={"step_time_s": "lower"}, targets={"step_time_s_ratio": 1.05},
             env=ENV, setup=SETUP, timeout_s=1800,
             note=f"GRPO LoRA on SmolLM2-135M, {steps} steps, batch 8 (2 prompts × 4 answers of ≤16 tokens), format "
                  "+ exact rewards on the lab's arithmetic set: the lab's job vs a raw TRL GRPOTrainer script."),
        Pair("train_kto_lora", side("sides/train_job.py", "--method", "kto", *kto_common),
             side("baselines/trl_kto.py", *kto_common),
             reps=3, quick_reps=1, compare={"step_time_s": "lower", "tokens_per_s": "higher"},
             targets={"step_time_s_ratio": 1.05}, env=ENV, setup=CONVERT, timeout_s=1800,
             note=f"KTO LoRA on SmolLM2-135M, {kto_steps} steps, batch 4, seq {seq}, the DPO demo's pairs unpaired "
                  "(chosen up, rejected down): the lab's job vs a raw TRL KTOTrainer script."),
        Pair("train_grpo_reward_rise", _grpo_lab(60), None, reps=1, quick_reps=1,
             compare={"reward_rise": "higher", "reward_first10": "higher", "reward_last10": "higher"},
             targets={"reward_rise": 0.1}, env=ENV, setup=SETUP, timeout_s=7200,
             note="The preset 'GRPO: teach an answer format' on the bundled model for 60 steps: mean total reward "
                  "(format + exact, max 2) over the first and the last 10 % of steps; reward_rise is last − first."),
    ]
