"""Lab side: one base and 3 LoRA adapters served at once (`lab serve`), 8 concurrent streams through the `openai`
client, each compared with its adapter's greedy answer loaded alone (plain transformers + PEFT).

BENCH_RESULT: base_mb (the base's weights in memory), with_adapters_mb (the same module carrying 3 adapters),
memory_ratio (with_adapters / base), rss_base_mb and rss_with_adapters_mb (the process), completed (streams that
ended), matching (streams whose text equals their adapter's answer alone), streams_s (wall time of the 8 streams).
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import openai
import psutil
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from lab.access import local
from lab.chat.registry import get_registry
from lab.serve.models import plan
from lab.serve.server import Server

PROMPT = [{"role": "user", "content": "Name three colours."}]


def make_adapters(base: str, root: Path) -> list[Path]:
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    out = []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        cfg = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", init_lora_weights=False,
                         task_type="CAUSAL_LM")
        peft = get_peft_model(model, cfg)
        peft.save_pretrained(root / f"adapter-{seed}")
        model = peft.unload()
        out.append(root / f"adapter-{seed}")
    return out


def alone(base: str, adapters: list[Path], tokens: int) -> dict[str, str]:
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    ids = tok.apply_chat_template(PROMPT, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    answers = {}
    for adapter in adapters:
        peft = PeftModel.from_pretrained(model, adapter).eval()
        with torch.no_grad():
            out = peft.generate(**ids, max_new_tokens=tokens, do_sample=False)
        answers[adapter.name] = tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
        model = peft.unload()
    return answers


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    args = ap.parse_args()
    adapters = make_adapters(args.model, Path(args.out))
    expected = alone(args.model, adapters, args.max_new_tokens)
    registry = get_registry()
    handle = registry.acquire(args.model)
    base_bytes = handle.entry.measure_bytes()
    rss_base = psutil.Process().memory_info().rss
    handle.release()
    models = plan(local(), [args.model] + [f"{args.model}+{a}" for a in adapters])
    server = Server(models, port=0, registry=registry).start()
    entry = registry.entry_for(args.model)
    with_bytes, rss_with = entry.measure_bytes(), psutil.Process().memory_info().rss
    client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0)
    names = [adapters[i % 3].name for i in range(8)]
    got = [None] * 8

    def ask(i):
        stream = client.chat.completions.create(model=names[i], messages=PROMPT, max_tokens=args.max_new_tokens,
                                                temperature=0, stream=True)
        got[i] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    streams_s = time.perf_counter() - t0
    server.stop()
    out = {"base_mb": base_bytes / 2**20, "with_adapters_mb": with_bytes / 2**20,
           "memory_ratio": with_bytes / base_bytes, "rss_base_mb": rss_base / 2**20,
           "rss_with_adapters_mb": rss_with / 2**20, "completed": sum(g is not None for g in got),
           "matching": sum(g == expected[n] for g, n in zip(got, names)),
           "distinct_answers": len(set(expected.values())), "streams_s": streams_s}
    print("BENCH_RESULT " + json.dumps({k: round(v, 3) for k, v in out.items()}))


if __name__ == "__main__":
    main()
