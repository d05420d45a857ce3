"""Setup for the data benchmarks (untimed): write Alpaca rows replicated with seeded one-word edits.

`--rows N --out rows.jsonl`: the 999 Alpaca demo rows first, then copies of them, each with one word of the
answer replaced by a word drawn from the data (seed 0). `--prompts`: short rows instead (the instruction is
the edited text, every row distinct), for the semantic-dedup benchmark. `--synthetic`: short made-up rows
from the Alpaca vocabulary (8-word instructions, 24-word answers; 1 M rows take ~200 MB), a fifth of them
near-duplicates of an earlier row (one answer word replaced) and a twentieth exact copies.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

ALPACA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "alpaca_en_demo.json"


def edit(text: str, vocab: list[str], rng: random.Random) -> str:
    words = text.split(" ")
    words[rng.randrange(len(words))] = rng.choice(vocab)
    return " ".join(words)


def synthetic(n: int, out: str, vocab: list[str], rng: random.Random) -> int:
    made = []
    with open(out, "w", encoding="utf-8") as f:
        for _ in range(n):
            roll = rng.random()
            if made and roll < 0.2:
                row = dict(rng.choice(made))
                row["output"] = edit(row["output"], vocab, rng)
            elif made and roll < 0.25:
                row = rng.choice(made)
            else:
                row = {"instruction": " ".join(rng.choices(vocab, k=8)), "input": "",
                       "output": " ".join(rng.choices(vocab, k=24))}
                if len(made) < 100_000:  # what later copies are drawn from
                    made.append(row)
            f.write(json.dumps(row) + "\n")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--prompts", action="store_true")
    ap.add_argument("--synthetic", action="store_true")
    args = ap.parse_args()
    if not ALPACA.is_file():
        raise SystemExit(f"{ALPACA} is missing: the data benchmarks read ../shared/data")
    base = json.loads(ALPACA.read_text())
    rng = random.Random(0)
    vocab = sorted({w for r in base for w in r["output"].split() if w.isalpha()})
    if args.synthetic:
        return synthetic(args.rows, args.out, vocab, rng)
    with open(args.out, "w", encoding="utf-8") as f:
        for i in range(args.rows):
            row = dict(base[i % len(base)])
            if args.prompts:
                row = {"instruction": edit(row["instruction"], vocab, rng) + f" ({i})", "input": row["input"],
                       "output": ""}
            elif i >= len(base):
                row["output"] = edit(row["output"], vocab, rng)
            f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
