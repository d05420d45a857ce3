"""Lab side: replies streamed from `lab serve` through the `openai` client, against the Chat tab's path.

Starts the lab's server in this process on the chat registry (so both paths use the very same loaded module),
warms both up, then times REPS greedy replies through each, interleaved (which goes first alternates):
- serve: openai.OpenAI(...).chat.completions.create(stream=True) in its own process (bench/sides/serve_client.py),
  as a user's code calls it; TTFT from the call to the first content chunk, tokens/s = (completion tokens - 1) /
  (end - first chunk), tokens from the stream's usage chunk;
- chat: lab.chat.stream.stream_many, timed as bench/sides/chat_stream.py times it.
BENCH_RESULT: ttft_ms, tokens_per_s (serve), ttft_chat_ms, tokens_per_s_chat, ttft_vs_chat and tps_vs_chat (medians
of the paired ratios serve / chat).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chat_stream import lab_reply  # noqa: E402

from lab.access import local  # noqa: E402
from lab.chat.registry import get_registry  # noqa: E402
from lab.chat.spec import build_spec  # noqa: E402
from lab.serve.models import plan  # noqa: E402
from lab.serve.server import Server  # noqa: E402


class Client:
    """The openai client in its own process, asked for one reply at a time."""

    def __init__(self, url: str, name: str, prompt: str, max_new_tokens: int):
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("serve_client.py")), "--url", url,
                                      "--model", name, "--prompt", prompt, "--max-new-tokens", str(max_new_tokens)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def reply(self) -> dict:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt", default="Write a short story about a robot who learns to paint.")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    spec = build_spec({"temperature": 0, "repetition_penalty": 1.0, "max_new_tokens": args.max_new_tokens})
    models = plan(local(), [args.model])
    server = Server(models, port=0, registry=get_registry()).start()
    client = Client(server.url, models[0].name, args.prompt, args.max_new_tokens)
    client.reply()  # warm-up
    lab_reply(args.model, args.prompt, spec)
    served, chat = [], []
    for i in range(args.reps):
        if i % 2:
            chat.append(lab_reply(args.model, args.prompt, spec))
        served.append(client.reply())
        if not i % 2:
            chat.append(lab_reply(args.model, args.prompt, spec))
    client.close()
    server.stop()
    med = lambda runs, k: statistics.median(r[k] for r in runs)  # noqa: E731
    out = {"ttft_ms": med(served, "ttft_ms"), "tokens_per_s": med(served, "tokens_per_s"),
           "tokens": med(served, "tokens"), "ttft_chat_ms": med(chat, "ttft_ms"),
           "tokens_per_s_chat": med(chat, "tokens_per_s"),
           "ttft_vs_chat": statistics.median(a["ttft_ms"] / b["ttft_ms"] for a, b in zip(served, chat)),
           "tps_vs_chat": statistics.median(a["tokens_per_s"] / b["tokens_per_s"] for a, b in zip(served, chat))}
    print("BENCH_RESULT " + json.dumps({k: round(v, 3) for k, v in out.items()}))


if __name__ == "__main__":
    main()
