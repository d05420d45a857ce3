"""Lab side: the Train tab's time estimate against the run it predicts.

`python bench/sides/train_time.py --method sft|dpo|grpo --model FOLDER --data FILE --rows N --batch B --seq S
[GRPO: --reward R ... --generations G --completion C]`: asks the Check's probe for the wall time of a one-epoch run
over N rows (lab.train.panel.time_estimate, as the Train tab does for the lab's owner), then submits that very
recipe as a job and times it from submit to done.
BENCH_RESULT: predicted_s, actual_s, actual_over_predicted (the ratio, ≤ 1.5) and actual_over_predicted_min (the
same ratio, ≥ 0.67), probe_s (what the Check cost), steps, and the estimate's parts.
LAB_HOME is a fresh folder under $BENCH_TMP.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--method", choices=["sft", "dpo", "grpo"], default="sft")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--rows", type=int, default=48)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--save-steps", type=int, default=50)
    p.add_argument("--reward", action="append", default=[])
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--completion", type=int, default=16)
    return p.parse_args()


def main() -> int:
    args = parse()
    home = Path(tempfile.mkdtemp(prefix="train-time-", dir=os.environ.get("BENCH_TMP")))
    os.environ["LAB_HOME"] = str(home)
    from lab.access import local
    from lab.jobs.manager import wait
    from lab.train import panel, submit
    from lab.train.recipe import TrainRecipe

    extra = {"rewards": args.reward, "num_generations": args.generations,
             "max_completion_length": args.completion, "scheduler": "constant",
             "warmup_ratio": 0.0} if args.method == "grpo" else {}
    recipe = TrainRecipe(method=args.method, model=args.model, dataset=args.data, max_rows=args.rows, epochs=1.0,
                         batch_size=args.batch, max_seq_length=args.seq, learning_rate=args.lr,
                         save_steps=args.save_steps, **extra)
    t0 = time.time()
    timed = panel.time_estimate(recipe, caller=local())
    probe_s = time.time() - t0
    if timed["estimate"] is None:
        print(f"not timed: {timed['refused']}", file=sys.stderr)
        return 1
    # a slow poll: on 2 cores, polling SQLite often would take CPU from the worker it waits for
    job = wait(submit(recipe, title="bench: train time").id, timeout=3600, poll=0.5)
    if job.state != "succeeded":
        print(f"job {job.id} {job.state}: {job.error}", file=sys.stderr)
        return 1
    predicted, actual = timed["estimate"]["total_s"], job.finished - job.created
    print("BENCH_RESULT " + json.dumps({
        "predicted_s": round(predicted, 1), "actual_s": round(actual, 1),
        "actual_over_predicted": round(actual / predicted, 3),
        "actual_over_predicted_min": round(actual / predicted, 3),
        "probe_s": round(probe_s, 1), "steps": timed["estimate"]["steps"],
        **{f"est_{k}": round(v, 2) for k, v in timed["estimate"].items() if k not in ("steps", "total_s")}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
