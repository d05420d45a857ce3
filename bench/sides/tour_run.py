"""Lab side: the first-run tour as a user starts it, `python -m lab tour`, in a fresh LAB_HOME.

The whole loop on the bundled SmolLM2-135M: demo dataset → filter → SFT job (LoRA, 20 steps) → SLERP merge job →
the three models side by side in chat. BENCH_RESULT: tour_s (the tour's own clock) and each stage's seconds,
rows in and out of the filter. The home (with the merge, the adapter and the LoRA merge cache) is deleted after.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="tour-", dir=os.environ.get("BENCH_TMP")))
    env = {**os.environ, "LAB_HOME": str(home)}
    try:
        proc = subprocess.run([sys.executable, "-m", "lab", "tour"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        summary = json.loads(proc.stdout)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    stages = summary["stages"]
    print("BENCH_RESULT " + json.dumps({
        "tour_s": summary["wall_s"], **{f"{k}_s": v["seconds"] for k, v in stages.items()},
        "rows_in": stages["filter"]["rows_in"], "rows_out": stages["filter"]["rows_out"],
        "sft_steps": stages["train"]["steps"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
