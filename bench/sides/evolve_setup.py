"""Untimed setup of the evolve bench: two tiny fine-tunes of the bundled SmolLM2 (every weight trained: AdamW,
lr 2e-5, 2 steps, each on its own alpaca rows; float32), a fitness task and a held-out task (multiple choice).
Usage: evolve_setup.py DIR BASE DATA (BASE: the converted bundled model's folder)"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

FITNESS = [("What is the capital of France?", ["Berlin", "Paris", "Rome"], 1),
           ("What color is the sky on a clear day?", ["Blue", "Green", "Red"], 0),
           ("How many legs does a spider have?", ["Six", "Eight", "Ten"], 1),
           ("What is 2 plus 2?", ["Three", "Four", "Five"], 1),
           ("Which planet do we live on?", ["Mars", "Earth", "Venus"], 1),
           ("What do bees make?", ["Honey", "Milk", "Silk"], 0)]
HELD_OUT = [("Which animal barks?", ["Dog", "Cat", "Fish"], 0),
            ("What color is snow?", ["Black", "Green", "White"], 2),
            ("How many days are in a week?", ["Five", "Seven", "Ten"], 1)]


def _task(path: Path, rows) -> None:
    path.write_text("".join(json.dumps({"question": q, "choices": c, "answer": a}) + "\n" for q, c, a in rows))


def _finetune(base: str, rows: list[dict], out: Path) -> None:
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5)
    model.train()
    for row in rows:
        msgs = [{"role": "user", "content": row["instruction"] + ("\n" + row["input"] if row["input"] else "")},
                {"role": "assistant", "content": row["output"]}]
        ids = tok.apply_chat_template(msgs, return_tensors="pt", return_dict=True)["input_ids"][:, :128]
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()
        opt.zero_grad()
    model.save_pretrained(out)
    tok.save_pretrained(out)


def main() -> None:
    root, base, data = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    subprocess.run([sys.executable, "-m", "lab", "models", "resolve", "HuggingFaceTB/SmolLM2-135M-Instruct"],
                   check=True, stdout=subprocess.DEVNULL)  # the bundled model converted, as the chat bench does
    torch.manual_seed(0)
    rows = json.loads(Path(data).read_text())
    _finetune(base, rows[:2], root / "ft1")
    _finetune(base, rows[2:4], root / "ft2")
    _task(root / "fitness.jsonl", FITNESS)
    _task(root / "held_out.jsonl", HELD_OUT)


if __name__ == "__main__":
    main()
