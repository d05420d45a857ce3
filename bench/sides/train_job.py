"""Lab side: a training run as the lab runs it, a job (submit -> worker process -> TRL -> adapter + card).

`python bench/sides/train_job.py --method sft|dpo|grpo|kto --model FOLDER --data FILE --steps N --batch B --seq S
[--adapter lora|qlora] [--packing] [GRPO: --reward R ... --generations G --completion C --recipe-extra JSON]`: submits the TrainRecipe through lab.train.submit (the Train tab's and
`python -m lab train --job`'s path: preflight, job record, worker), waits, and reads the job's metrics.jsonl.
BENCH_RESULT: step_time_s (median interval between optimizer steps, steps 3..N, as the job's own callback
timed them), tokens_per_s (non-padding tokens per second over the same steps), steps, first_loss, last_loss,
mean_loss (over every step);
GRPO adds reward_first10 / reward_last10 (mean total reward over the first and last 10 % of steps).
LAB_HOME is a fresh folder under $BENCH_TMP.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--method", choices=["sft", "dpo", "grpo", "kto"], default="sft")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--adapter", choices=["lora", "qlora"], default="lora")
    p.add_argument("--packing", action="store_true")
    p.add_argument("--reward", action="append", default=[])
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--completion", type=int, default=16)
    p.add_argument("--recipe-extra", default="{}", help="More TrainRecipe fields as JSON.")
    return p.parse_args()


def main() -> int:
    args = parse()
    home = Path(tempfile.mkdtemp(prefix="train-", dir=os.environ.get("BENCH_TMP")))
    os.environ["LAB_HOME"] = str(home)
    from lab.jobs.manager import wait
    from lab.train import submit
    from lab.train.recipe import TrainRecipe

    recipe = TrainRecipe(method=args.method, model=args.model, dataset=args.data, adapter=args.adapter,
                         max_steps=args.steps, batch_size=args.batch, max_seq_length=args.seq,
                         learning_rate=args.lr, packing=args.packing, save_steps=10_000,
                         **_method_fields(args))
    # a slow poll: on 2 cores, polling SQLite every 50 ms would take CPU from the worker it waits for
    job = wait(submit(recipe, title="bench: train").id, timeout=3600, poll=0.5)
    if job.state != "succeeded":
        print(f"job {job.id} {job.state}: {job.error}", file=sys.stderr)
        return 1
    rows = [json.loads(x) for x in (job.folder / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "loss" in r]
    timed = [r for r in steps if r["step"] > 2] or steps
    # a row covers the steps since the row before it (every step on CPU; every ~2 s on a GPU): weigh by them
    span = {id(r): r["step"] - (prev["step"] if prev else 0) for prev, r in zip([None, *steps], steps)}
    tokens = sum(r.get("tokens", 0) for r in timed)
    print("BENCH_RESULT " + json.dumps({
        "step_time_s": round(statistics.median(r["step_time"] for r in timed), 4),
        "tokens_per_s": round(tokens / sum(r["step_time"] * span[id(r)] for r in timed), 1) if tokens else None,
        "steps": len(steps), "first_loss": steps[0]["loss"], "last_loss": steps[-1]["loss"],
        "mean_loss": round(statistics.mean(r["loss"] for r in steps), 5), **_rise(steps)}))
    return 0


def _method_fields(args) -> dict:
    if args.method != "grpo":
        return json.loads(args.recipe_extra)
    return {"rewards": args.reward, "num_generations": args.generations, "max_completion_length": args.completion,
            **json.loads(args.recipe_extra)}


def _rise(steps: list[dict]) -> dict:
    rewards = [r["reward"] for r in steps if "reward" in r]
    if not rewards:
        return {}
    n = max(1, len(rewards) // 10)
    first, last = statistics.mean(rewards[:n]), statistics.mean(rewards[-n:])
    return {"reward_first10": round(first, 4), "reward_last10": round(last, 4), "reward_rise": round(last - first, 4)}


if __name__ == "__main__":
    sys.exit(main())
