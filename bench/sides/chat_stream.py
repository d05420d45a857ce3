"""Lab side: replies streamed through lab.chat (registry + stream_many, the path the Chat tab and CLI use).

Loads the model through the registry once, warms up once, then times REPS greedy replies. In the same process,
interleaved with those, it times plain `model.generate` + TextIteratorStreamer on the very same module, so the
overhead of the lab's path is measured on identical weights under identical load:
BENCH_RESULT: ttft_ms, tokens_per_s (the lab path, measured as the baseline script measures), ttft_plain_ms,
tokens_per_s_plain, ttft_overhead_ms (median of the paired differences lab − plain), tps_vs_plain (median of the
paired ratios lab / plain).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "baselines"))
from generate_streamer import reply as plain_reply  # noqa: E402

from lab.chat.prompt import build_messages  # noqa: E402
from lab.chat.registry import get_registry  # noqa: E402
from lab.chat.spec import build_spec  # noqa: E402
from lab.chat.stream import stream_many  # noqa: E402


def lab_reply(model_ref: str, prompt: str, spec) -> dict:
    start = time.perf_counter()
    first, stats = None, {}
    for batch in stream_many([model_ref], [build_messages("", [], prompt)], spec):
        for ev in batch:
            if ev.kind == "delta" and first is None:
                first = time.perf_counter()
            elif ev.kind == "error":
                raise SystemExit(f"lab chat failed: {ev.text}")
            elif ev.kind == "done":
                stats = ev.stats
    end = time.perf_counter()
    tokens = stats["tokens"]
    return {"ttft_ms": (first - start) * 1000, "tokens": tokens,
            "tokens_per_s": (tokens - 1) / (end - first) if tokens > 1 else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt", default="Write a short story about a robot who learns to paint.")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    spec = build_spec({"temperature": 0, "repetition_penalty": 1.0, "max_new_tokens": args.max_new_tokens})
    t0 = time.perf_counter()
    handle = get_registry().acquire(args.model)  # held, so the module stays loaded for the plain runs
    load_s = time.perf_counter() - t0
    model, tok = handle.entry.model, handle.tokenizer
    lab_reply(args.model, args.prompt, spec)  # warm-up
    plain_reply(model, tok, args.prompt, args.max_new_tokens)
    lab, plain = [], []
    for i in range(args.reps):  # alternate which path goes first, so drift in the machine's load cancels out
        if i % 2:
            plain.append(plain_reply(model, tok, args.prompt, args.max_new_tokens))
        lab.append(lab_reply(args.model, args.prompt, spec))
        if not i % 2:
            plain.append(plain_reply(model, tok, args.prompt, args.max_new_tokens))
    med = lambda runs, k: statistics.median(r[k] for r in runs)  # noqa: E731
    out = {"ttft_ms": med(lab, "ttft_ms"), "tokens_per_s": med(lab, "tokens_per_s"), "tokens": med(lab, "tokens"),
           "ttft_plain_ms": med(plain, "ttft_ms"), "tokens_per_s_plain": med(plain, "tokens_per_s"),
           "load_s": load_s,
           # paired per repetition: the two paths ran back to back under the same load
           "ttft_overhead_ms": statistics.median(a["ttft_ms"] - b["ttft_ms"] for a, b in zip(lab, plain)),
           "tps_vs_plain": statistics.median(a["tokens_per_s"] / b["tokens_per_s"] for a, b in zip(lab, plain))}
    handle.release()
    print("BENCH_RESULT " + json.dumps({k: round(v, 3) for k, v in out.items()}))


if __name__ == "__main__":
    main()
