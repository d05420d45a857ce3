"""A raw Unsloth script (GPU only): what a user writes with Unsloth's FastLanguageModel and TRL, the same data,
LoRA, batch, length and steps as bench/gpu/raw_trl.py. Prints BENCH_RESULT (timed steps, losses, peak VRAM).

    python bench/gpu/raw_unsloth.py --method sft|dpo --model DIR --data FILE --adapter lora|qlora --steps N
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import unsloth  # noqa: F401  # first: it patches transformers, TRL and PEFT
from unsloth import FastLanguageModel

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.gpu.raw_trl import Timer, _alpaca, _pairs, parse_args  # noqa: E402


def main() -> None:
    import tempfile

    import torch
    from datasets import load_dataset
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    a = parse_args()
    model, tok = FastLanguageModel.from_pretrained(model_name=a.model, max_seq_length=a.seq, dtype=torch.bfloat16,
                                                   load_in_4bit=a.adapter == "qlora")
    model = FastLanguageModel.get_peft_model(
        model, r=16, lora_alpha=32, lora_dropout=0.05, bias="none", use_gradient_checkpointing="unsloth",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], random_state=42)
    ds = load_dataset("json", data_files=a.data, split="train")
    ds = ds.map(_alpaca if a.method == "sft" else _pairs, remove_columns=ds.column_names)
    timer = Timer()
    common = dict(output_dir=tempfile.mkdtemp(), max_steps=a.steps, per_device_train_batch_size=a.batch,
                  max_length=a.seq, learning_rate=2e-4 if a.method == "sft" else 5e-6, report_to=[],
                  save_strategy="no")
    config, cls = (SFTConfig(**common), SFTTrainer) if a.method == "sft" else (DPOConfig(**common), DPOTrainer)
    trainer = cls(model=model, args=config, train_dataset=ds, processing_class=tok, callbacks=[timer])
    trainer.data_collator = timer.count(trainer.data_collator)
    torch.cuda.reset_peak_memory_stats()
    trainer.train()
    torch.cuda.synchronize()
    print("BENCH_RESULT " + json.dumps({"timed": timer.rows, "losses": timer.losses,
                                        "peak_vram_gb": round(torch.cuda.max_memory_reserved() / 1e9, 3)}))


if __name__ == "__main__":
    main()
