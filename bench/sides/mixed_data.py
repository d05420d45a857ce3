"""Setup: an SFT dataset of mixed lengths (32 to 1024 tokens through the model's chat template), from Alpaca rows.

`python bench/sides/mixed_data.py --model REF --data alpaca.json --out FILE.jsonl [--rows 400] [--min 32]
[--max 1024] [--seed 0]`. Each row's target length is drawn log-uniformly between --min and --max (so most rows
are short and a few are long, as in real chat data); the row is a conversation of consecutive Alpaca turns that
reaches the target, its last answer cut (by tokens) to end there. Deterministic for a seed. Prints the lengths'
summary as BENCH_RESULT.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

from transformers import AutoTokenizer

from lab.models import resolve


def _turns(row: dict) -> list[dict]:
    user = row["instruction"] + (f"\n\n{row['input']}" if row.get("input") else "")
    return [{"role": "user", "content": user}, {"role": "assistant", "content": row["output"]}]


def _length(tok, messages: list[dict]) -> int:
    return len(tok.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])


def _cut_to(tok, messages: list[dict], target: int) -> list[dict] | None:
    """The conversation with its last answer cut so the whole is at most `target` tokens; None if even an empty
    answer is longer."""
    head, answer = messages[:-1], messages[-1]["content"]
    room = target - _length(tok, [*head, {"role": "assistant", "content": ""}])
    if room < 1:
        return None
    ids = tok(answer, add_special_tokens=False)["input_ids"][:room]
    for keep in range(len(ids), 0, -1):  # decoding can merge tokens: shorten until it fits
        cut = [*head, {"role": "assistant", "content": tok.decode(ids[:keep])}]
        if _length(tok, cut) <= target:
            return cut
    return None


def build(tok, alpaca: list[dict], rows: int, low: int, high: int, seed: int) -> list[dict]:
    rng, out, at = random.Random(seed), [], 0
    while len(out) < rows:
        target = int(low * (high / low) ** rng.random())
        messages: list[dict] = []
        while True:
            messages += _turns(alpaca[at % len(alpaca)])
            at += 1
            if _length(tok, messages) >= target:
                break
        row = _cut_to(tok, messages, target)
        if row is None and len(messages) > 2:  # the last turn's question alone is too long: drop that turn
            row = _cut_to(tok, messages[:-2], target) if _length(tok, messages[:-2]) >= target else None
        if row is not None:
            out.append({"messages": row})
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--rows", type=int, default=400)
    p.add_argument("--min", type=int, default=32)
    p.add_argument("--max", type=int, default=1024)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    tok = AutoTokenizer.from_pretrained(resolve(args.model, log=lambda m: None))  # a folder, or the bundled model
    rows = build(tok, json.loads(Path(args.data).read_text()), args.rows, args.min, args.max, args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in rows))
    lengths = sorted(_length(tok, r["messages"]) for r in rows)
    print("BENCH_RESULT " + json.dumps({"rows": len(rows), "min": lengths[0], "median": statistics.median(lengths),
                                        "max": lengths[-1], "mean": round(statistics.mean(lengths), 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
