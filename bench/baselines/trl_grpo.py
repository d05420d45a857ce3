"""Baseline: GRPO with LoRA as a user writes it with TRL alone (the same config the lab's job uses).

`python bench/baselines/trl_grpo.py --model FOLDER --data data.jsonl --steps N --batch B --generations G
--completion C --lr LR`. The data is the lab's arithmetic set (prompt as messages, reference `answer`); the two
rewards are written as plain functions, as a user would: the answer format (a regex) and an exact match of the
answer inside <answer>…</answer>.
BENCH_RESULT: step_time_s (median interval between optimizer steps 3..N, generation included), steps,
first_reward, last_reward.
"""
import argparse
import json
import re
import statistics
import tempfile

import torch
from datasets import load_dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import GRPOConfig, GRPOTrainer

from trl_sft import CHECKPOINTING, StepTimer, peak_vram  # the same timing and measures on every baseline

FORMAT = re.compile(r"^\s*<answer>\s*-?\d+\s*</answer>\s*$", re.DOTALL)
ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def format_reward(completions, **kwargs):
    return [1.0 if FORMAT.search(c[0]["content"]) else 0.0 for c in completions]


def exact_reward(completions, answer, **kwargs):
    out = []
    for c, ref in zip(completions, answer):
        found = ANSWER.findall(c[0]["content"])
        text = found[-1] if found else c[0]["content"]
        out.append(1.0 if text.strip().strip(".").lower() == str(ref).strip().lower() else 0.0)
    return out


class RewardLog(StepTimer):
    def on_log(self, args, state, control, logs=None, **kw):
        super().on_log(args, state, control, logs=logs, **kw)
        if logs and "reward" in logs and self.rows:
            self.rows[-1]["reward"] = logs["reward"]


def main():
    p = argparse.ArgumentParser()
    for name, default in (("--model", None), ("--data", None), ("--steps", 10), ("--batch", 8),
                          ("--generations", 4), ("--completion", 16), ("--lr", 2e-4)):
        p.add_argument(name, default=default, type=type(default) if default else str)
    args = p.parse_args()
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.get_device_capability() >= (8, 0)
    dtype = torch.bfloat16 if bf16 else torch.float16 if cuda else torch.float32
    ds = load_dataset("json", data_files=args.data, split="train")
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype, device_map={"": 0} if cuda else None)
    timer = RewardLog()
    config = GRPOConfig(
        output_dir=tempfile.mkdtemp(), max_steps=args.steps, per_device_train_batch_size=args.batch,
        num_generations=args.generations, max_completion_length=args.completion, temperature=1.0, beta=0.0,
        learning_rate=args.lr, lr_scheduler_type="constant", warmup_steps=0, seed=42, logging_steps=1,
        save_strategy="no", report_to=[], disable_tqdm=True, use_cpu=not cuda, bf16=bf16, fp16=cuda and not bf16,
        **{CHECKPOINTING: cuda})
    peft = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = GRPOTrainer(model=model, reward_funcs=[format_reward, exact_reward], args=config, train_dataset=ds,
                          processing_class=tok, peft_config=peft, callbacks=[timer])
    trainer.train()
    trainer.save_model(config.output_dir)
    timed = timer.rows[2:] or timer.rows
    rewards = [r["reward"] for r in timer.rows if "reward" in r]
    print("BENCH_RESULT " + json.dumps({
        "step_time_s": round(statistics.median(r["dt"] for r in timed), 4), "steps": len(timer.rows),
        "first_reward": rewards[0], "last_reward": rewards[-1], **peak_vram()}))


if __name__ == "__main__":
    main()
