"""Baseline: SFT with LoRA as a user writes it with TRL alone (the same config the lab's job uses).

`python bench/baselines/trl_sft.py --model FOLDER --data alpaca.json --steps N --batch B --seq S [--qlora]
[--packing] [--padding-free] [--liger]`. The Alpaca rows become TRL's conversational prompt/completion form.
Precision follows the device, as the lab's probe decides it (CPU: fp32; GPU: bf16 on Ampere+, else fp16).
BENCH_RESULT: step_time_s (median interval between optimizer steps 3..N), tokens_per_s (non-padding tokens per
second over those steps), steps, first_loss, last_loss.
"""
import argparse
import importlib.util
import json
import statistics
import tempfile
import time

import torch
from datasets import load_dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig, TrainerCallback, TrainingArguments
from trl import SFTConfig, SFTTrainer

# transformers 5.23 renamed gradient_checkpointing (kept as an alias); older 5.x only has the old name
CHECKPOINTING = "activation_checkpointing" if "activation_checkpointing" in TrainingArguments.__dataclass_fields__ \
    else "gradient_checkpointing"


def peak_vram() -> dict:
    """Peak GPU memory PyTorch reserved and allocated (the lab's side reports the same two numbers)."""
    if not torch.cuda.is_available():
        return {}
    return {"peak_vram_gb": round(torch.cuda.max_memory_reserved() / 1e9, 3),
            "peak_allocated_gb": round(torch.cuda.max_memory_allocated() / 1e9, 3)}


class StepTimer(TrainerCallback):
    def __init__(self):
        self.rows, self.t, self.tokens = [], None, 0

    def on_train_begin(self, args, state, control, **kw):
        self.t = time.time()

    def on_step_end(self, args, state, control, **kw):
        now = time.time()
        self.rows.append({"dt": now - self.t, "tokens": state.num_input_tokens_seen - self.tokens})
        self.t, self.tokens = now, state.num_input_tokens_seen

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "loss" in logs:
            self.rows[-1]["loss"] = logs["loss"]


def to_prompt_completion(row):
    user = row["instruction"] + (f"\n\n{row['input']}" if row["input"] else "")
    return {"prompt": [{"role": "user", "content": user}],
            "completion": [{"role": "assistant", "content": row["output"]}]}


def main():
    p = argparse.ArgumentParser()
    for name, default in (("--model", None), ("--data", None), ("--steps", 20), ("--batch", 4), ("--seq", 256)):
        p.add_argument(name, default=default, type=type(default) if default else str)
    for flag in ("--qlora", "--packing", "--padding-free", "--liger"):
        p.add_argument(flag, action="store_true")
    args = p.parse_args()
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.get_device_capability() >= (8, 0)
    dtype = torch.bfloat16 if bf16 else torch.float16 if cuda else torch.float32
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=dtype) if args.qlora else None
    ds = load_dataset("json", data_files=args.data, split="train")
    ds = ds.map(to_prompt_completion, remove_columns=ds.column_names)
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype, quantization_config=quant,
                                                 device_map={"": 0} if cuda else None)
    timer = StepTimer()
    config = SFTConfig(
        output_dir=tempfile.mkdtemp(), max_steps=args.steps, per_device_train_batch_size=args.batch,
        max_length=args.seq, learning_rate=2e-4, lr_scheduler_type="cosine", warmup_steps=0.03, seed=42,
        logging_steps=1, save_strategy="no", report_to=[], disable_tqdm=True, use_cpu=not cuda,
        bf16=bf16, fp16=cuda and not bf16, **{CHECKPOINTING: cuda},
        include_num_input_tokens_seen="non_padding", packing=args.packing, padding_free=args.padding_free,
        use_liger_kernel=args.liger and importlib.util.find_spec("liger_kernel") is not None)
    peft = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=config, train_dataset=ds, processing_class=tok, peft_config=peft,
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
