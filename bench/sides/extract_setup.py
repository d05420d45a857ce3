"""Untimed setup of the extract bench: a real full fine-tune of the bundled SmolLM2 (every weight trained: AdamW,
lr 2e-5, 8 steps over alpaca rows), saved as safetensors in DIR/ft. Both sides extract from it. The task of the
extract's check: the eval bench's 200-item multiple choice (one-digit sums), DIR/quiz.jsonl.
Usage: extract_setup.py DIR BASE DATA (BASE: the converted bundled model's folder)"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from eval_setup import write_task  # bench/sides: this script's folder
from transformers import AutoModelForCausalLM, AutoTokenizer


def finetune(base: str, rows: list[dict], out: Path, max_len: int) -> None:
    """Every weight of BASE trained one AdamW step (lr 2e-5, float32) per alpaca row, in the chat template, cut at
    max_len tokens; saved with its tokenizer in OUT."""
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5)
    model.train()
    for row in rows:
        msgs = [{"role": "user", "content": row["instruction"] + ("\n" + row["input"] if row["input"] else "")},
                {"role": "assistant", "content": row["output"]}]
        ids = tok.apply_chat_template(msgs, return_tensors="pt", return_dict=True)["input_ids"][:, :max_len]
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()
        opt.zero_grad()
    model.save_pretrained(out)
    tok.save_pretrained(out)


def main() -> None:
    out, base, data = Path(sys.argv[1]) / "ft", sys.argv[2], sys.argv[3]
    subprocess.run([sys.executable, "-m", "lab", "models", "resolve", "HuggingFaceTB/SmolLM2-135M-Instruct"],
                   check=True, stdout=subprocess.DEVNULL)  # the bundled model converted, as the chat bench does
    torch.manual_seed(0)
    finetune(base, json.loads(Path(data).read_text())[:8], out, max_len=256)
    write_task(Path(sys.argv[1]))


if __name__ == "__main__":
    main()
