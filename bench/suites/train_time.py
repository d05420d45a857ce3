"""Honest time (issue 26): the Train tab's Check predicts a run's wall time from a short probe (start-up, a sample
tokenized, three real steps, a checkpoint); the run then goes as a job and is timed from submit to done.
SFT, DPO and GRPO (LoRA) on the bundled SmolLM2-135M, one epoch over a few rows (bench/sides/train_time.py).
The ratio actual / predicted must lie within 0.67–1.5. Both runs share the machine's load as it is.
"""
from __future__ import annotations

from bench.core import Pair, side
from bench.suites.train import CONVERT, DATA, ENV, FOLDER
from bench.suites.train_methods import ARITH, FORMAT, SETUP

MEASURES = {"predicted_s": "lower", "actual_s": "lower", "actual_over_predicted": "lower",
            "actual_over_predicted_min": "higher", "probe_s": "lower"}
TARGETS = {"actual_over_predicted": 1.5, "actual_over_predicted_min": 0.67}


def _pair(name: str, method: str, data, rows: int, setup, note: str, *extra) -> Pair:
    return Pair(name, side("sides/train_time.py", "--method", method, "--model", FOLDER, "--data", data,
                           "--rows", rows, "--save-steps", 4, *extra),
                None, reps=2, quick_reps=1, compare=MEASURES, targets=TARGETS, env=ENV, setup=setup,
                timeout_s=1800, note=note)


def pairs(quick: bool) -> list[Pair]:
    rows = 32 if quick else 64
    return [
        _pair("time_sft", "sft", DATA / "alpaca_en_demo.json", rows, CONVERT,
              f"SFT LoRA, {rows} Alpaca rows, batch 4, seq 128, 1 epoch, a checkpoint every 4 steps: predicted by "
              "Check vs the job's wall time (submit to done)."),
        _pair("time_dpo", "dpo", DATA / "dpo_en_demo.json", rows, CONVERT,
              f"DPO LoRA, {rows} pairs, batch 4, seq 128, 1 epoch, a checkpoint every 4 steps: predicted vs actual.",
              "--lr", 5e-6),
        _pair("time_grpo", "grpo", ARITH, rows // 2, SETUP,
              f"GRPO LoRA, {rows // 2} arithmetic prompts, batch 4 (1 prompt × 4 answers of ≤16 tokens), format + "
              "exact rewards, 1 epoch, a checkpoint every 4 steps: predicted vs actual.",
              "--reward", FORMAT, "--reward", "exact"),
    ]
