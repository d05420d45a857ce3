"""The lab's small arithmetic set for GRPO: sums with a reference answer, written once into LAB_HOME.

Each prompt shows the answer format once (a worked example turn), then asks a new sum, so even a small model
answers in the format some of the time: GRPO then has a signal to reinforce from the first step.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from lab.artifacts import finalize, read_manifest
from lab.settings import get_settings

NAME = "arithmetic-sums"
ROWS = 200
INSTRUCTION = "Reply as <answer>N</answer>."
FORMAT = r"^\s*<answer>\s*-?\d+\s*</answer>\s*$"  # the format reward the preset uses


def rows(n: int = ROWS, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(1, 20), rng.randint(1, 20)
        prompt = [{"role": "user", "content": f"What is 2 + 3? {INSTRUCTION}"},
                  {"role": "assistant", "content": "<answer>5</answer>"},
                  {"role": "user", "content": f"What is {a} + {b}? {INSTRUCTION}"}]
        out.append({"prompt": prompt, "answer": str(a + b)})
    return out


def ensure() -> Path:
    """The set as a dataset artifact (data.jsonl + card); written on first use, then reused as is."""
    folder = get_settings().artifacts / NAME
    if read_manifest(folder).get("kind") == "dataset" and (folder / "data.jsonl").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "data.jsonl", "w") as f:
        for row in rows():
            f.write(json.dumps(row) + "\n")
    finalize(folder, "dataset", [], recipe={"source": "written by the lab", "rows": ROWS, "seed": 0},
             step="arithmetic set", metrics={"rows": ROWS}, tags=["grpo", "math", "synthetic"],
             extra={"summary": "Sums of two numbers from 1 to 20, each with its reference `answer`, for GRPO "
                               "with a format reward and an exact-match reward."})
    return folder
