"""Untimed setup of the evolve bench: two tiny fine-tunes of the bundled SmolLM2 (every weight trained: AdamW,
lr 2e-5, 2 steps, each on its own alpaca rows; float32), a fitness task and a held-out task (multiple choice).
Usage: evolve_setup.py DIR BASE DATA (BASE: the converted bundled model's folder)"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from extract_setup import finetune  # bench/sides: this script's folder

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


def main() -> None:
    root, base, data = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    subprocess.run([sys.executable, "-m", "lab", "models", "resolve", "HuggingFaceTB/SmolLM2-135M-Instruct"],
                   check=True, stdout=subprocess.DEVNULL)  # the bundled model converted, as the chat bench does
    torch.manual_seed(0)
    rows = json.loads(Path(data).read_text())
    finetune(base, rows[:2], root / "ft1", max_len=128)
    finetune(base, rows[2:4], root / "ft2", max_len=128)
    _task(root / "fitness.jsonl", FITNESS)
    _task(root / "held_out.jsonl", HELD_OUT)


if __name__ == "__main__":
    main()
