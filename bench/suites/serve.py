"""Serve (issue 25): `lab serve` through the openai client against the Chat tab's path; 3 adapters on one base;
requests for one adapter batched into one forward pass."""
from __future__ import annotations

from bench.core import Pair, side
from bench.suites.chat import CONVERT, ENV, FOLDER


def pairs(quick: bool) -> list[Pair]:
    reps_in = ["--reps", 6 if quick else 10, "--max-new-tokens", 32 if quick else 96]
    return [
        Pair("serve_stream", side("sides/serve_stream.py", "--model", FOLDER, *reps_in), None,
             reps=3, quick_reps=1, env=ENV, setup=CONVERT, timeout_s=600,
             compare={"ttft_ms": "lower", "tokens_per_s": "higher", "ttft_vs_chat": "lower", "tps_vs_chat": "higher"},
             targets={"ttft_vs_chat": 1.05, "tps_vs_chat": 0.95},
             note="Greedy replies on SmolLM2-135M. `lab serve` streamed through the openai client (HTTP, SSE) against "
                  "the Chat tab's path (lab.chat stream_many) on the same loaded module, interleaved in one process; "
                  "ttft_vs_chat and tps_vs_chat are medians of the paired ratios serve / chat."),
        Pair("serve_adapters", side("sides/serve_adapters.py", "--model", FOLDER, "--out", "{tmp}",
                                    "--max-new-tokens", 16), None,
             reps=1, quick_reps=1, env=ENV, setup=CONVERT, timeout_s=600,
             compare={"memory_ratio": "lower", "completed": "higher", "matching": "higher", "streams_s": "lower"},
             targets={"memory_ratio": 1.1, "completed": 8, "matching": 8},
             note="One base + 3 LoRA adapters (r=8, all linear layers, random A and B) served at once; 8 concurrent "
                  "streams over the 3 through the openai client, each compared with its adapter loaded alone "
                  "(greedy). memory_ratio: the base module's bytes with the 3 adapters over without."),
        Pair("serve_batch", side("sides/serve_batch.py", "--model", FOLDER, "--out", "{tmp}",
                                 "--max-new-tokens", 32 if quick else 64), None,
             reps=3, quick_reps=1, env=ENV, setup=CONVERT, timeout_s=900,
             compare={"tokens_per_s": "higher", "batch_vs_one_by_one": "higher", "batch_vs_interleaved": "higher",
                      "matching": "higher"},
             targets={"batch_vs_one_by_one": 1.5, "matching": 8},
             note="8 concurrent greedy streams on ONE LoRA adapter (r=8, all linear) through the openai client, "
                  "batched by the server into one forward pass (left-padded, 8 prompt lengths), against the same 8 "
                  "one after another and against 8 concurrent unbatched (each its own generate(), interleaved per "
                  "token: the server before batching); ratios of total completion tokens/s. matching: batched "
                  "replies equal to the same request alone."),
    ]
