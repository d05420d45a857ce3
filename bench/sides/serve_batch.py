"""Lab side: 8 concurrent greedy streams on ONE adapter through `lab serve`, batched into one forward pass, against
the same 8 requests one after another and against 8 concurrent ones unbatched (the batcher's cap at 1: each its own
generate(), interleaved per token through the base's fair lock, as the server ran before batching).

One base + 1 LoRA adapter (r=8, all linear layers, random A and B); 8 chat prompts of different lengths (so the
batch is left-padded); the openai client streams each with usage. Total completion tokens / wall time per way.
BENCH_RESULT: tokens_per_s (batched), one_by_one_tokens_per_s, interleaved_tokens_per_s, batch_vs_one_by_one and
batch_vs_interleaved (ratios of tokens/s), matching (batched replies equal to the same request alone), tokens.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_adapters import make_adapters  # noqa: E402

from lab.access import local  # noqa: E402
from lab.chat.registry import get_registry  # noqa: E402
from lab.serve.models import plan  # noqa: E402
from lab.serve.server import Server  # noqa: E402

TOPICS = ["colours", "rivers in Europe", "ways to cook an egg", "reasons to learn to paint, with an example of each",
          "birds", "planets and one fact about each", "board games", "tools in a kitchen"]


def ask(client, name: str, topic: str, tokens: int) -> tuple[str, int]:
    stream = client.chat.completions.create(model=name, messages=[{"role": "user", "content": f"Name some {topic}."}],
                                            max_tokens=tokens, temperature=0, stream=True,
                                            stream_options={"include_usage": True})
    text, made = "", 0
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            made = chunk.usage.completion_tokens
    return text, made


def concurrent(client, name: str, tokens: int) -> tuple[list, float]:
    got = [None] * len(TOPICS)

    def run(i):
        got[i] = ask(client, name, TOPICS[i], tokens)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(TOPICS))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    args = ap.parse_args()
    adapter = make_adapters(args.model, Path(args.out))[0]
    server = Server(plan(local(), [f"{args.model}+{adapter}"]), port=0, registry=get_registry()).start()
    client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0)
    name, tokens = adapter.name, args.max_new_tokens
    concurrent(client, name, tokens)  # warm-up
    batched, batched_s = concurrent(client, name, tokens)
    t0 = time.perf_counter()
    alone = [ask(client, name, topic, tokens) for topic in TOPICS]
    one_by_one_s = time.perf_counter() - t0
    server.service.batcher.max_batch = 1  # as before batching: each request its own generate()
    interleaved, interleaved_s = concurrent(client, name, tokens)
    server.stop()
    total = lambda runs: sum(made for _, made in runs)  # noqa: E731
    tps, one_tps = total(batched) / batched_s, total(alone) / one_by_one_s
    inter_tps = total(interleaved) / interleaved_s
    out = {"tokens_per_s": tps, "one_by_one_tokens_per_s": one_tps, "interleaved_tokens_per_s": inter_tps,
           "batch_vs_one_by_one": tps / one_tps, "batch_vs_interleaved": tps / inter_tps,
           "matching": sum(b[0] == a[0] for b, a in zip(batched, alone)), "tokens": total(batched)}
    print("BENCH_RESULT " + json.dumps({k: round(v, 3) for k, v in out.items()}))


if __name__ == "__main__":
    main()
