"""Baseline: KTO with LoRA as a user writes it with TRL alone (the same config the lab's job uses).

`python bench/baselines/trl_kto.py --model FOLDER --data dpo_en_demo.json --steps N --batch B --seq S --lr LR`.
The ShareGPT-style preference pairs are unpaired the way the lab does it: each pair gives its chosen answer as a
thumbs-up row and its rejected answer as a thumbs-down row, in that order. The reference is the adapter-disabled
base (no second model), as in the lab.
BENCH_RESULT: step_time_s, tokens_per_s, steps, first_loss, last_loss (as trl_sft.py measures them).
"""
import argparse
import json
import statistics
import tempfile

import torch
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import KTOConfig, KTOTrainer

from trl_dpo import to_preference
from trl_sft import CHECKPOINTING, StepTimer, peak_vram  # the same timing and measures on every baseline


def unpaired(rows: list[dict]) -> list[dict]:
    out = []
    for row in map(to_preference, rows):
        out += [{"prompt": row["prompt"], "completion": row["chosen"], "label": True},
                {"prompt": row["prompt"], "completion": row["rejected"], "label": False}]
    return out


def main():
    p = argparse.ArgumentParser()
    for name, default in (("--model", None), ("--data", None), ("--steps", 20), ("--batch", 4), ("--seq", 256),
                          ("--lr", 5e-6)):
        p.add_argument(name, default=default, type=type(default) if default else str)
    args = p.parse_args()
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.get_device_capability() >= (8, 0)
    dtype = torch.bfloat16 if bf16 else torch.float16 if cuda else torch.float32
    with open(args.data) as f:
        ds = Dataset.from_list(unpaired(json.load(f)))
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype, device_map={"": 0} if cuda else None)
    timer = StepTimer()
    config = KTOConfig(
        output_dir=tempfile.mkdtemp(), max_steps=args.steps, per_device_train_batch_size=args.batch,
        max_length=args.seq, learning_rate=args.lr, lr_scheduler_type="cosine", warmup_steps=0.03, seed=42,
        beta=0.1, desirable_weight=1.0, undesirable_weight=1.0, logging_steps=1, save_strategy="no", report_to=[],
        disable_tqdm=True, use_cpu=not cuda, bf16=bf16, fp16=cuda and not bf16, **{CHECKPOINTING: cuda},
        include_num_input_tokens_seen="non_padding")
    peft = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = KTOTrainer(model=model, args=config, train_dataset=ds, processing_class=tok, peft_config=peft,
                         callbacks=[timer])
    trainer.train()
    trainer.save_model(config.output_dir)
    timed = timer.rows[2:] or timer.rows
    losses = [r["loss"] for r in timer.rows if "loss" in r]
    print("BENCH_RESULT " + json.dumps({
        "step_time_s": round(statistics.median(r["dt"] for r in timed), 4),
        "tokens_per_s": round(sum(r["tokens"] for r in timed) / sum(r["dt"] for r in timed), 1),
        "steps": len(timer.rows), "first_loss": losses[0], "last_loss": losses[-1], **peak_vram()}))


if __name__ == "__main__":
    main()
