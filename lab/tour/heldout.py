"""The tour's held-out evaluation: questions in the demo data's task families whose answers the training rows never
show (different sums, countries, words), scored by exact match on the word after "is" in the reply.

The tour runs it as an `eval` job on the base, the fine-tune and the merge; the contamination check then reports
0 of them in the training data, which is the point of holding them out.
"""
from __future__ import annotations

import json
from pathlib import Path

from lab.errors import LabError

ITEMS = [
    ("What is 34 plus 47?", "81"), ("What is 58 plus 26?", "84"), ("What is 17 plus 63?", "80"),
    ("Name the capital of Italy.", "Rome"), ("Name the capital of Spain.", "Madrid"),
    ("Name the capital of Germany.", "Berlin"),
    ("Give the opposite of the word 'big'.", "small"), ("What is the plural of 'foot'?", "feet"),
]
REGEX = r"\bis '?([A-Za-z0-9]+)"  # "The capital of Italy is Rome." -> Rome; "34 plus 47 is 81." -> 81


def write(folder: Path, training_rows: list[dict]) -> Path:
    """heldout.jsonl in folder; refuses a question that is also a training instruction."""
    seen = {str(r.get("instruction", "")).strip().lower() for r in training_rows}
    leaked = [q for q, _ in ITEMS if q.lower() in seen]
    if leaked:
        raise LabError(f"Held-out questions are in the training rows: {leaked}.", "Pick other questions.", "tour")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "heldout.jsonl"
    path.write_text("".join(json.dumps({"prompt": q, "answer": a}) + "\n" for q, a in ITEMS))
    return path


def recipe(path: Path, models: list[str]) -> dict:
    """The eval job's recipe: exact match, chat template as each model has it, a small batch of short answers."""
    return {"models": models, "custom": [{"path": str(path), "name": "tour_heldout", "kind": "exact_match",
                                          "regex": REGEX, "max_gen_toks": 24}], "batch_size": 8}


def scores(result: dict) -> list[float | None]:
    """Each model's exact match on the held-out task, in the recipe's order."""
    return [m["scores"].get("tour_heldout", {}).get("exact_match") for m in result["models"]]
