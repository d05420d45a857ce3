"""Memory (issue 13): the lab's estimate against the measured peak RSS of the training process tree, on CPU.

The matrix: SFT and DPO × LoRA and full fine-tuning × two sequence lengths, on SmolLM2-135M with the shared
Alpaca and preference data (batch 4 for SFT, 2 pairs = 4 sequences for DPO; 3 steps, over every row the
estimate reads). Each pair is the lab alone against absolute targets: measured/estimated and estimated/measured
both ≤ 1.25, i.e. every ratio within 0.8–1.25. bench/gpu/check.py runs the same matrix, QLoRA included, on a GPU.
"""
from __future__ import annotations

from bench.core import Pair, side
from bench.suites.train import CONVERT, DATA, ENV, FOLDER

COMPARE = {"measured_over_estimate": "lower", "estimate_over_measured": "lower", "measured_gb": "lower",
           "estimate_gb": "lower", "step_time_s": "lower"}
TARGETS = {"measured_over_estimate": 1.25, "estimate_over_measured": 1.25}


def pairs(quick: bool) -> list[Pair]:
    out = []
    for method, data, batch in (("sft", "alpaca_en_demo.json", 4), ("dpo", "dpo_en_demo.json", 2)):
        for adapter in ("lora", "full"):
            for seq in (256, 512):
                out.append(Pair(
                    f"memory_{method}_{adapter}_{seq}",
                    side("sides/train_memory.py", "--method", method, "--adapter", adapter, "--seq", seq, "--batch",
                         batch, "--steps", 3, "--data", DATA / data, "--model", FOLDER, "--out", "{tmp}/run"),
                    reps=3, quick_reps=1, compare=COMPARE, targets=TARGETS, env=ENV, setup=CONVERT,
                    timeout_s=1800,
                    note=f"{method.upper()} {adapter}, max_seq_length {seq}, batch {batch}"
                         f"{' pairs' if method == 'dpo' else ''}: peak RSS of the CLI's process tree vs the lab's "
                         "estimate."))
    return out
