"""Lab side: a training run as the lab runs it, a job (submit -> worker process -> TRL -> adapter + card).

`python bench/sides/train_job.py --method sft|dpo --model FOLDER --data FILE --steps N --batch B --seq S
[--adapter lora|qlora] [--packing]`: submits the TrainRecipe through lab.train.submit (the Train tab's and
`python -m lab train --job`'s path: preflight, job record, worker), waits, and reads the job's metrics.jsonl.
BENCH_RESULT: step_time_s (median interval between optimizer steps, steps 3..N, as the job's own callback
timed them), tokens_per_s (non-padding tokens per second over the same steps), steps, first_loss, last_loss.
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
    p.add_argument("--method", choices=["sft", "dpo"], default="sft")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--adapter", choices=["lora", "qlora"], default="lora")
    p.add_argument("--packing", action="store_true")
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
                         learning_rate=args.lr, packing=args.packing, save_steps=10_000)
    # a slow poll: on 2 cores, polling SQLite every 50 ms would take CPU from the worker it waits for
    job = wait(submit(recipe, title="bench: train").id, timeout=3600, poll=0.5)
    if job.state != "succeeded":
        print(f"job {job.id} {job.state}: {job.error}", file=sys.stderr)
        return 1
    rows = [json.loads(x) for x in (job.folder / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "loss" in r]
    timed = steps[2:] or steps
    tokens = sum(r["tokens_per_s"] * r["step_time"] for r in timed if r.get("tokens_per_s"))
    print("BENCH_RESULT " + json.dumps({
        "step_time_s": round(statistics.median(r["step_time"] for r in timed), 4),
        "tokens_per_s": round(tokens / sum(r["step_time"] for r in timed), 1),
        "steps": len(steps), "first_loss": steps[0]["loss"], "last_loss": steps[-1]["loss"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
