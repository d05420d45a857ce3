"""Raw TRL with its defaults: the script a user writes for SFT or DPO with LoRA or QLoRA, for bench/gpu/fast.py.

TRL 1.16's own defaults stand (bf16, gradient checkpointing, logging every 10 steps, padded batches, no Liger);
only what the benchmark fixes is set: steps, batch, max length, learning rate, the LoRA (r 16, alpha 32, dropout
0.05, all linear layers) and the 4-bit config for QLoRA. Measuring adds no GPU sync: step times on the host
clock, real tokens counted on the CPU as batches are collated, peak VRAM from PyTorch's allocator.

    python bench/gpu/raw_trl.py --method sft|dpo --model DIR --data FILE --adapter lora|qlora --steps N
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch
from datasets import load_dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig, TrainerCallback


def _alpaca(row):
    user = row["instruction"] + (f"\n\n{row['input']}" if row["input"] else "")
    return {"prompt": [{"role": "user", "content": user}], "completion": [{"role": "assistant", "content": row["output"]}]}


def _pairs(row):
    conv = row["conversations"]
    turns = [{"role": "user" if m["from"] == "human" else "assistant", "content": m["value"]} for m in conv]
    return {"prompt": turns, "chosen": [{"role": "assistant", "content": row["chosen"]["value"]}],
            "rejected": [{"role": "assistant", "content": row["rejected"]["value"]}]}


class Timer(TrainerCallback):
    """Host time and real tokens per optimizer step, and the logged losses."""

    def __init__(self):
        self.rows, self.losses, self.t, self.pending, self.acc = [], [], None, [], 0

    def count(self, collate):
        def wrapped(examples):
            batch = collate(examples)
            mask = batch.get("attention_mask") if isinstance(batch, dict) else None
            self.pending.append(int(mask.sum()) if mask is not None else None)
            return batch
        return wrapped

    def on_train_begin(self, args, state, control, **kw):
        self.t = time.time()

    def on_substep_end(self, args, state, control, **kw):
        self._add()

    def on_step_end(self, args, state, control, **kw):
        now = time.time()
        self._add()
        self.rows.append({"end": state.global_step, "steps": 1, "seconds": now - self.t, "tokens": self.acc})
        self.t, self.acc = now, 0

    def _add(self):
        n = self.pending.pop(0) if self.pending else None
        self.acc += n or 0

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "loss" in logs:
            last = self.losses[-1]["end"] if self.losses else 0
            self.losses.append({"end": state.global_step, "steps": state.global_step - last, "loss": logs["loss"]})


def run(method: str, model_dir: str, data: str, adapter: str, steps: int, batch: int = 4, seq: int = 1024,
        lr: float | None = None) -> dict:
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16) if adapter == "qlora" else None
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16, quantization_config=quant,
                                                 device_map={"": 0})
    ds = load_dataset("json", data_files=data, split="train")
    ds = ds.map(_alpaca if method == "sft" else _pairs, remove_columns=ds.column_names)
    timer = Timer()
    common = dict(output_dir=tempfile.mkdtemp(), max_steps=steps, per_device_train_batch_size=batch, max_length=seq,
                  learning_rate=lr or (2e-4 if method == "sft" else 5e-6), report_to=[], save_strategy="no")
    peft = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    config, trainer_cls = (SFTConfig(**common), SFTTrainer) if method == "sft" else (DPOConfig(**common), DPOTrainer)
    trainer = trainer_cls(model=model, args=config, train_dataset=ds, processing_class=tok, peft_config=peft,
                          callbacks=[timer])
    trainer.data_collator = timer.count(trainer.data_collator)
    torch.cuda.reset_peak_memory_stats()
    trainer.train()
    torch.cuda.synchronize()
    out = {"timed": timer.rows, "losses": timer.losses,
           "peak_vram_gb": round(torch.cuda.max_memory_reserved() / 1e9, 3)}
    del trainer, model
    return out


def parse_args() -> argparse.Namespace:
    """The raw scripts' shared arguments (this one and raw_unsloth.py)."""
    p = argparse.ArgumentParser()
    p.add_argument("--method", choices=["sft", "dpo"], default="sft")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--adapter", choices=["lora", "qlora"], default="qlora")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=1024)
    return p.parse_args()


def main() -> None:
    a = parse_args()
    print("BENCH_RESULT " + json.dumps(run(a.method, a.model, a.data, a.adapter, a.steps, a.batch, a.seq)))


if __name__ == "__main__":
    main()
