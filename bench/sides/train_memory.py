"""Lab side of the memory suite: one training run through `python -m lab train` (its child process under the
watchdog), the peak RSS of the whole process tree sampled every 20 ms, against the lab's own estimate.

`python bench/sides/train_memory.py --method sft --adapter lora --seq 256 --batch 4 --steps 3 --data FILE
--model FOLDER --out DIR`. The run sees every row it estimates from (max_rows = steps × batch), so the estimate's
longest batch is the one the run meets.
BENCH_RESULT: measured_gb, estimate_gb, measured_over_estimate, estimate_over_measured (both ≤ 1.25 is the
0.8–1.25 target), worker_peak_gb (the worker's own ru_maxrss), tokens (of the longest batch), step_time_s.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def tree_peak(proc: subprocess.Popen, out: dict) -> None:
    while proc.poll() is None:
        try:
            root = psutil.Process(proc.pid)
            total = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
            out["peak"] = max(out.get("peak", 0), total)
        except psutil.Error:
            pass
        time.sleep(0.02)


def main() -> int:
    p = argparse.ArgumentParser()
    for name in ("--method", "--adapter", "--data", "--model", "--out"):
        p.add_argument(name, required=True)
    for name in ("--seq", "--batch", "--steps"):
        p.add_argument(name, type=int, required=True)
    p.add_argument("--gc", default="auto")
    a = p.parse_args()
    out = Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    argv = [sys.executable, "-m", "lab", "train", "--method", a.method, "--adapter", a.adapter, "--model", a.model,
            "--dataset", a.data, "--max-seq-length", str(a.seq), "--batch-size", str(a.batch), "--max-steps",
            str(a.steps), "--max-rows", str(a.steps * a.batch), "--save-steps", "1000", "--gradient-checkpointing",
            a.gc, "--learning-rate", "2e-4" if a.method == "sft" else "5e-6", "--out", str(out)]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen: dict = {}
    sampler = threading.Thread(target=tree_peak, args=(proc, seen), daemon=True)
    sampler.start()
    _, err = proc.communicate()
    sampler.join()
    if proc.returncode:
        print(err[-3000:], file=sys.stderr)
        return proc.returncode
    mem = json.loads((out / "preflight.json").read_text())["memory"]
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    times = sorted(r["step_time"] for r in rows if r.get("step_time"))
    measured, estimate = seen["peak"] / 1e9, mem["total_gb"]
    print("BENCH_RESULT " + json.dumps({
        "measured_gb": round(measured, 3), "estimate_gb": estimate,
        "measured_over_estimate": round(measured / estimate, 3), "estimate_over_measured": round(estimate / measured, 3),
        "worker_peak_gb": mem.get("peak_gb"), "tokens": mem["batch"]["tokens"],
        "step_time_s": times[len(times) // 2] if times else None}))
    shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
