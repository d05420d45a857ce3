"""Train (issue 6): the lab's training job against a raw TRL script with the same config, on SmolLM2-135M.

Padding-free SFT against padded SFT (issue 23), both the lab's job, on a dataset of mixed lengths (32-1024 tokens,
bench/sides/mixed_data.py): tokens/s, peak RSS and the mean loss of the same steps.
SFT and DPO with LoRA (20 steps, batch 4, sequence 256; quick mode: 8 steps): the lab side submits the job
(bench/sides/train_job.py: preflight, job record, worker process, TRL, adapter + card) and reads the step times
its own callback recorded; the baseline (bench/baselines/trl_*.py) is the script a user writes with TRL alone and
times its steps with the same callback logic. The GPU section (QLoRA tokens/s, and the best options: packing /
padding-free / Liger when installed) runs only when CUDA is present.
OMP_WAIT_POLICY=PASSIVE on both sides (the lab's worker sets it itself; on a busy 2-vCPU box spinning OpenMP
threads made a LoRA step 5-6x slower), so both sides run under the same threading.
"""
from __future__ import annotations

import os
from pathlib import Path

from bench.core import PYTHON, Pair, side

MODELS_DIR = Path(os.environ.get("LAB_TEST_CACHE", Path.home() / ".cache" / "lab-test")) / "models"
FOLDER = MODELS_DIR / "HuggingFaceTB--SmolLM2-135M-Instruct"
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ENV = {"HF_HUB_OFFLINE": "1", "HF_HOME": "{tmp}/hf", "LAB_MODELS_DIR": str(MODELS_DIR), "LAB_HOME": "{tmp}/home",
       "TOKENIZERS_PARALLELISM": "false", "OMP_WAIT_POLICY": "PASSIVE", "HF_DATASETS_CACHE": "{tmp}/datasets"}
CONVERT = [PYTHON, "-m", "lab", "models", "resolve", "HuggingFaceTB/SmolLM2-135M-Instruct"]
COMPARE = {"step_time_s": "lower", "tokens_per_s": "higher"}


def _pair(name: str, method: str, data: str, steps: int, lr: float, extra_lab=(), extra_base=(), gpu=False,
          targets=None, note: str = "", seq: int = 256) -> Pair:
    common = ["--model", FOLDER, "--data", DATA / data, "--steps", steps, "--batch", 4, "--seq", seq]
    base = "baselines/trl_sft.py" if method == "sft" else "baselines/trl_dpo.py"
    lr_arg = [] if method == "sft" else ["--lr", lr]
    return Pair(name, side("sides/train_job.py", "--method", method, "--lr", lr, *common, *extra_lab),
                side(base, *common, *lr_arg, *extra_base), reps=3, quick_reps=1, compare=COMPARE,
                targets=targets if targets is not None else {"step_time_s_ratio": 1.03, "wall_ratio": 1.15},
                env=ENV, setup=CONVERT, timeout_s=1800, gpu=gpu, note=note)


def _padding_free(quick: bool) -> Pair:
    steps = 6 if quick else 20
    common = ["--method", "sft", "--model", FOLDER, "--data", "{tmp}/mixed.jsonl", "--steps", steps, "--batch", 4,
              "--seq", 1024, "--lr", 2e-4]
    mixed = side("sides/mixed_data.py", "--model", "HuggingFaceTB/SmolLM2-135M-Instruct", "--data",
                 DATA / "alpaca_en_demo.json", "--out", "{tmp}/mixed.jsonl", "--rows", 400)
    return Pair("sft_padding_free", side("sides/train_job.py", *common, "--recipe-extra", '{"padding_free": true}'),
                side("sides/train_job.py", *common, "--recipe-extra", '{"padding_free": false}'), reps=3,
                quick_reps=1, compare={**COMPARE, "mean_loss": "lower", "last_loss": "lower"},
                targets={"tokens_per_s_ratio": 1.3, "rss_ratio": 0.8, "mean_loss_ratio": 1.02}, env=ENV,
                setup=mixed, timeout_s=1800,
                note=f"SFT LoRA r16 all-linear on SmolLM2-135M, {steps} steps, batch 4, max_seq_length 1024, 400 rows "
                     "of 32-1024 tokens (log-uniform, Alpaca conversations cut to length), seed 42: the lab's job "
                     "with padding-free batches vs the same job padded (padding_free: false). Same rows, same order.")


def _ddp_cpu(quick: bool) -> Pair:
    """Issue 24: the same job on 2 gloo processes × batch 1 against 1 process × batch 2 (the same effective batch)."""
    steps = 5 if quick else 20
    common = ["--method", "sft", "--model", FOLDER, "--data", DATA / "alpaca_en_demo.json", "--steps", steps,
              "--seq", 256, "--lr", 2e-4]
    return Pair("train_ddp_cpu", side("sides/train_job.py", *common, "--batch", 1,
                                      "--recipe-extra", '{"use_cpu": true, "num_processes": 2}'),
                side("sides/train_job.py", *common, "--batch", 2, "--recipe-extra", '{"use_cpu": true}'),
                reps=3, quick_reps=1, compare={"last_loss": "lower", "mean_loss": "lower"},
                targets={"last_loss_ratio": 1.02, "mean_loss_ratio": 1.02}, env={**ENV, "OMP_NUM_THREADS": "1"},
                setup=CONVERT, timeout_s=1800,
                note=f"SFT LoRA r16 on SmolLM2-135M on CPU, {steps} steps, seq 256, Alpaca demo, seed 42: the lab's job "
                     "with num_processes 2 (accelerate launch, DDP over gloo, batch 1 per rank) vs the same job in one "
                     "process at batch 2. The losses should match (same rows per step); wall_ratio is the price or "
                     "gain of two processes on this machine's cores.")


def pairs(quick: bool) -> list[Pair]:
    # quick: the 10-minute budget holds four side runs of ~1 minute of imports and loading each on 2 cores
    steps, seq = (5, 128) if quick else (20, 256)
    out = [
        _padding_free(quick),
        _ddp_cpu(quick),
        _pair("train_sft_lora", "sft", "alpaca_en_demo.json", steps, 2e-4, seq=seq,
              note=f"SFT LoRA r16 all-linear on SmolLM2-135M, {steps} steps, batch 4, seq {seq}, Alpaca demo: the "
                   "lab's job (submit to adapter + card) vs a raw TRL SFTTrainer script, same config."),
        _pair("train_dpo_lora", "dpo", "dpo_en_demo.json", steps, 5e-6, seq=seq,
              note=f"DPO LoRA (reference = adapter-disabled base) on SmolLM2-135M, {steps} steps, batch 4, seq {seq}, "
                   "DPO demo: the lab's job vs a raw TRL DPOTrainer script, same config."),
    ]
    gpu_steps = 10 if quick else 30
    out += [
        _pair("train_qlora_gpu", "sft", "alpaca_en_demo.json", gpu_steps, 2e-4, ["--adapter", "qlora"],
              ["--qlora"], gpu=True, targets={"tokens_per_s_ratio": 0.97, "step_time_s_ratio": 1.03},
              note="QLoRA (nf4, double quant, bf16/fp16 compute from the probe) on a CUDA GPU: tokens/s of the lab's "
                   "job vs raw TRL, same config."),
        _pair("train_qlora_gpu_best", "sft", "alpaca_en_demo.json", gpu_steps, 2e-4, ["--adapter", "qlora",
              "--packing"], ["--qlora", "--packing", "--padding-free", "--liger"], gpu=True, targets={},
              note="The best options the stack offers, reported apart: the lab with packing vs raw TRL with packing, "
                   "padding-free and Liger kernels (when installed)."),
    ]
    return out
