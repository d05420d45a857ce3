"""Baseline: plain `model.generate` with a TextIteratorStreamer in a thread: what a user writes without the lab.

Loads the model once, warms up once, then times REPS greedy replies to one chat prompt.
BENCH_RESULT: ttft_ms (from rendering the prompt to the first streamed text), tokens_per_s (decode: tokens after
the first, over the time from the first text to the end), tokens (new tokens per reply), load_s.
"""
from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer


def reply(model, tok, prompt: str, max_new_tokens: int) -> dict:
    start = time.perf_counter()
    text = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False)
    inputs = tok(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
    result = {}
    kwargs = dict(**inputs, streamer=streamer, max_new_tokens=max_new_tokens, do_sample=False)
    thread = threading.Thread(target=lambda: result.update(ids=model.generate(**kwargs)))
    thread.start()
    first = None
    for chunk in streamer:
        if chunk and first is None:
            first = time.perf_counter()
    thread.join()
    end = time.perf_counter()
    tokens = result["ids"].shape[1] - inputs["input_ids"].shape[1]
    return {"ttft_ms": (first - start) * 1000, "tokens": tokens,
            "tokens_per_s": (tokens - 1) / (end - first) if tokens > 1 else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt", default="Write a short story about a robot who learns to paint.")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    t0 = time.perf_counter()
    cuda = torch.cuda.is_available()
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.bfloat16 if cuda else torch.float32)
    model = model.to("cuda" if cuda else "cpu").eval()
    load_s = time.perf_counter() - t0
    reply(model, tok, args.prompt, args.max_new_tokens)  # warm-up
    runs = [reply(model, tok, args.prompt, args.max_new_tokens) for _ in range(args.reps)]
    med = {k: statistics.median(r[k] for r in runs) for k in ("ttft_ms", "tokens_per_s", "tokens")}
    print("BENCH_RESULT " + json.dumps({**{k: round(v, 3) for k, v in med.items()}, "load_s": round(load_s, 3)}))


if __name__ == "__main__":
    main()
