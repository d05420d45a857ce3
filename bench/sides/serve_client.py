"""The user's side of serve_stream: its own process (as a user's code is), one streamed reply per line read on stdin,
timed with the openai client; prints one JSON line per reply: ttft_ms, tokens, tokens_per_s."""
from __future__ import annotations

import argparse
import json
import sys
import time

import openai


def reply(client, name: str, prompt: str, max_new_tokens: int) -> dict:
    start = time.perf_counter()
    first, tokens = None, 0
    stream = client.chat.completions.create(model=name, messages=[{"role": "user", "content": prompt}],
                                            max_tokens=max_new_tokens, temperature=0, stream=True,
                                            stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content and first is None:
            first = time.perf_counter()
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
    end = time.perf_counter()
    return {"ttft_ms": (first - start) * 1000, "tokens": tokens,
            "tokens_per_s": (tokens - 1) / (end - first) if tokens > 1 else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    args = ap.parse_args()
    client = openai.OpenAI(base_url=args.url, api_key="none", max_retries=0)
    for _ in sys.stdin:
        print(json.dumps(reply(client, args.model, args.prompt, args.max_new_tokens)), flush=True)


if __name__ == "__main__":
    main()
