"""Setup for the data benchmarks (untimed): write Alpaca rows replicated with seeded one-word edits.

`--rows N --out rows.jsonl`: the 999 Alpaca demo rows first, then copies of them, each with one word of the
answer replaced by a word drawn from the data (seed 0). `--prompts`: short rows instead (the instruction is
the edited text, every row distinct), for the semantic-dedup benchmark.
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--prompts", action="store_true")
    args = ap.parse_args()
    if not ALPACA.is_file():
        raise SystemExit(f"{ALPACA} is missing: the data benchmarks read ../shared/data")
    base = json.loads(ALPACA.read_text())
    rng = random.Random(0)
    vocab = sorted({w for r in base for w in r["output"].split() if w.isalpha()})
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
