"""Setup for the eval pairs: a 200-item multiple-choice task (one-digit arithmetic, four one-digit choices, seeded;
one-token answers, like the letter answers of MMLU-style tasks) as the lab writes it
(quiz.jsonl, and its lm-eval task YAML + data under tasks/), then lm-eval's own score on it (reference.json) from
`lm_eval` itself, which both timed sides are compared with. With --warm: also one `python -m lab eval` run, which
fills the lab's result cache for the cached re-run pair.
Usage: eval_setup.py TMP [--warm]
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

ITEMS = 200


WORDINGS = ["What is {a} {op} {b}?", "Compute {a} {op} {b}.", "How much is {a} {op} {b}?"]


def write_task(tmp: Path) -> Path:
    rng = random.Random(0)
    sums = [(a, op, b, a + b if op == "plus" else a - b) for a in range(10) for b in range(10)
            for op in ("plus", "minus")]
    items = [(w, *s) for w in WORDINGS for s in sums if 0 <= s[3] <= 9]  # 330 distinct questions
    rows = []
    for wording, a, op, b, answer in rng.sample(items, ITEMS):
        wrong = rng.sample([d for d in range(10) if d != answer], 3)
        choices = [str(c) for c in rng.sample([answer, *wrong], 4)]
        rows.append({"question": wording.format(a=a, op=op, b=b), "choices": choices, "answer": str(answer)})
    path = tmp / "quiz.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from lab.eval.custom import build
    from lab.eval.recipe import CustomTask

    build(CustomTask(path=str(path))).write(tmp / "tasks")
    return path


def main(tmp: str, warm: bool) -> int:
    tmp = Path(tmp)
    quiz = write_task(tmp)
    here = Path(__file__).resolve().parent
    ref = subprocess.run([sys.executable, str(here.parent / "baselines" / "lm_eval_cli.py"), "--reference"])
    if ref.returncode:
        return ref.returncode
    if warm:
        return subprocess.run([sys.executable, "-m", "lab", "eval", "--model", "HuggingFaceTB/SmolLM2-135M-Instruct",
                               "--task", str(quiz), "--out", str(tmp / "warm"), "--chat-template", "on"],
                              stdout=subprocess.DEVNULL).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--warm" in sys.argv[2:]))
