"""Export (issue 15): GGUF writing time per billion parameters against a bare `gguf`-package script, and the
check's figures (top-1 agreement, mean KL divergence) for every type on the bundled SmolLM2-135M.

The timed pairs run the lab's CLI with --no-check (resolve, tokenizer, plan, write, read-back, Modelfile, card)
against a script that writes the same tensors with GGUFWriter; the target bounds the write phase's time per
billion parameters (write_s as each side times it), and wall_s shows what the lab's extras cost on top.
"""
from __future__ import annotations

import os
from pathlib import Path

from bench.core import BASELINES, PYTHON, Pair, side

MODELS_DIR = Path(os.environ.get("LAB_TEST_CACHE", Path.home() / ".cache" / "lab-test")) / "models"
BUNDLED_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
BUNDLED = MODELS_DIR / "HuggingFaceTB--SmolLM2-135M-Instruct"
ENV = {"LAB_MODELS_DIR": str(MODELS_DIR), "LAB_HOME": "{tmp}/home", "HF_HOME": "{tmp}/hf", "HF_HUB_OFFLINE": "1"}
SETUP = [PYTHON, "-c", "from lab.models.bundled import ensure_bundled; ensure_bundled()"]


def _write_pair(kind: str) -> Pair:
    return Pair(f"export_{kind}", side("sides/export_run.py", BUNDLED_ID, kind, "--no-check"),
                [PYTHON, str(BASELINES / "gguf_write.py"), str(BUNDLED), kind, "{tmp}/bare"],
                reps=5, quick_reps=2, compare={"s_per_bparam": "lower", "write_s": "lower", "bytes": "lower"},
                targets={"s_per_bparam_ratio": 1.1}, env=ENV, setup=SETUP, timeout_s=300,
                note=f"{kind} of SmolLM2-135M (bf16, 135M parameters): `python -m lab export REF --gguf {kind} "
                     "--no-check` vs a bare GGUFWriter script writing the same tensors; the target is on the write "
                     "phase per billion parameters, wall_s includes the lab's read-back, Modelfile and card.")


def pairs(quick: bool) -> list[Pair]:
    return [_write_pair("q8_0"), _write_pair("f16"),
            Pair("export_check", side("sides/export_run.py", BUNDLED_ID, "f16,bf16,q8_0,q4_0"), None, reps=1,
                 quick_reps=1, compare={"f16_kl": "lower", "f16_top1": "higher", "bf16_kl": "lower",
                                        "bf16_top1": "higher", "q8_0_kl": "lower", "q8_0_top1": "higher",
                                        "q4_0_kl": "lower", "q4_0_top1": "higher"},
                 targets={"f16_kl": 1e-6, "f16_top1": 1.0, "bf16_kl": 1e-6, "q8_0_top1": 0.9, "q8_0_kl": 0.05},
                 env=ENV, setup=SETUP, timeout_s=600,
                 note="The check on the bundled model: each type written, read back, reloaded through transformers "
                      "and compared with the source on 8 chat prompts (~300 next-token positions). The figures are "
                      "deterministic, so one run.")]
