"""The lab's side of the evolve bench: `python -m lab merge evolve` (linear merge of two fine-tunes, CMA-ES over the
two weights, population 3, 6 candidates) on the fitness task; prints the CLI's numbers as BENCH_RESULT.
Usage: evolve.py DIR (made by evolve_setup.py)"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def main() -> None:
    root = Path(sys.argv[1])
    config = root / "evolve.yaml"
    config.write_text(json.dumps({"models": [str(root / "ft1"), str(root / "ft2")], "method": "linear",
                                  "fitness": [str(root / "fitness.jsonl")], "held_out": [str(root / "held_out.jsonl")],
                                  "population": 3, "candidates": 6, "dtype": "float32", "seed": 0}))
    out = root / "best"
    proc = subprocess.run([sys.executable, "-m", "lab", "merge", "evolve", str(config), "--out", str(out)],
                          capture_output=True, text=True)
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    result = json.loads(proc.stdout)
    better_parent = max(s["fitness"] for s in result["parents"].values())
    print("BENCH_RESULT " + json.dumps({
        "seconds_per_candidate": result["seconds_per_candidate"], "candidates": result["candidates"],
        "cache_saved": result["cache_saved"], "scored": result["scored"], "best_fitness": result["best"]["fitness"],
        "better_parent_fitness": better_parent, "fitness_over_parent": result["best"]["fitness"] - better_parent,
        "held_out_best": result["held_out_mean"], "search_s": result["seconds"]}))


if __name__ == "__main__":
    main()
