"""Baseline: DPO with LoRA as a user writes it with TRL alone (the same config the lab's job uses).

`python bench/baselines/trl_dpo.py --model FOLDER --data dpo_en_demo.json --steps N --batch B --seq S [--qlora]`.
The ShareGPT-style preference rows become TRL's conversational prompt/chosen/rejected form; the reference model
is the adapter-disabled base (no second model), as in the lab.
BENCH_RESULT: step_time_s, tokens_per_s, steps, first_loss, last_loss (as trl_sft.py measures them).
"""
import argparse
import json
import statistics
import tempfile

import torch
from datasets import load_dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
from trl import DPOConfig, DPOTrainer

from trl_sft import CHECKPOINTING, StepTimer, peak_vram  # the same timing and measures on both baselines

ROLES = {"human": "user", "gpt": "assistant", "system": "system"}


def to_preference(row):
    def msg(m):
        return {"role": ROLES.get(m["from"], m["from"]), "content": m["value"]}

    return {"prompt": [msg(m) for m in row["conversations"]], "chosen": [msg(row["chosen"])],
            "rejected": [msg(row["rejected"])]}


def main():
    p = argparse.ArgumentParser()
    for name, default in (("--model", None), ("--data", None), ("--steps", 20), ("--batch", 4), ("--seq", 256),
                          ("--lr", 2e-4)):
        p.add_argument(name, default=default, type=type(default) if default else str)
    p.add_argument("--qlora", action="store_true")
    args = p.parse_args()
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.get_device_capability() >= (8, 0)
    dtype = torch.bfloat16 if bf16 else torch.float16 if cuda else torch.float32
    ds = load_dataset("json", data_files=args.data, split="train")
    ds = ds.map(to_preference, remove_columns=ds.column_names)
    tok = AutoTokenizer.from_pretrained(args.model)
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=dtype) if args.qlora else None
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype, quantization_config=quant,
                                                 device_map={"": 0} if cuda else None)
    timer = StepTimer()
    config = DPOConfig(
        output_dir=tempfile.mkdtemp(), max_steps=args.steps, per_device_train_batch_size=args.batch,
        max_length=args.seq, learning_rate=args.lr, lr_scheduler_type="cosine", warmup_steps=0.03, seed=42,
        beta=0.1, loss_type=["sigmoid"], logging_steps=1, save_strategy="no", report_to=[], disable_tqdm=True,
        use_cpu=not cuda, bf16=bf16, fp16=cuda and not bf16, **{CHECKPOINTING: cuda},
        include_num_input_tokens_seen="non_padding")
    peft = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = DPOTrainer(model=model, args=config, train_dataset=ds, processing_class=tok, peft_config=peft,
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
