"""Lab side: `python -m lab extract-lora` on the full fine-tune (in-process, as the CLI runs it).
BENCH_RESULT: relative_error, rank, layers (and with --ranks, relative_error_rR for each rank, written to DIR/rR).
Usage: extract_lora.py FT BASE OUT --rank R [--ranks 8,16,64]"""
from __future__ import annotations

import argparse
import contextlib
import io
import json

from lab.__main__ import main as lab


def extract(ft: str, base: str, out: str, rank: int) -> dict:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert lab(["extract-lora", ft, "--base", base, "--rank", str(rank), "--out", out]) == 0
    return json.loads(buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ft")
    ap.add_argument("base")
    ap.add_argument("out")
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--ranks", default="")
    args = ap.parse_args()
    if args.ranks:
        res = {}
        for r in map(int, args.ranks.split(",")):
            got = extract(args.ft, args.base, f"{args.out}/r{r}", r)
            res[f"relative_error_r{r}"] = got["relative_error"]
            res[f"relative_error_all_r{r}"] = got["relative_error_all"]
        print("BENCH_RESULT " + json.dumps(res))
        return
    got = extract(args.ft, args.base, args.out, args.rank)
    print("BENCH_RESULT " + json.dumps({k: got[k] for k in ("relative_error", "rank", "layers")}))


if __name__ == "__main__":
    main()
