"""Lab side of the data benchmarks: `python -m lab data filter ...` (the CLI, in this process).

`dedup ROWS`: --exact --fuzzy 0.6; reports rows, duplicates, rejected (candidate pairs the true-Jaccard check
turned down), and — when the baseline of an earlier repetition
left its removed rows in $BENCH_TMP — `overlap`, the Jaccard similarity of the two sets of removed rows.
`semantic ROWS`: --semantic 0.95 in a fresh LAB_HOME (no cached vectors); reports texts_per_s of the step.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path


def cli(*argv: str) -> dict:
    from lab.__main__ import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["data", "filter", *argv])
    if code:
        raise SystemExit(code)
    return json.loads(out.getvalue())


def dedup(rows: str, tmp: Path) -> dict:
    report = cli(rows, "--exact", "--fuzzy", "0.6", "--out", str(tmp / "lab_out.parquet"), "--force",
                 "--removed-out", str(tmp / "lab_removed.jsonl"))
    fuzzy = next(s for s in report["funnel"] if s["type"] == "fuzzy_dedup")
    result = {"rows": report["rows_in"], "duplicates": report["rows_in"] - report["rows_out"],
              "rejected": int(fuzzy["note"].split()[0])}  # candidate pairs the true-Jaccard check turned down
    baseline = tmp / "baseline_removed.json"
    if baseline.is_file():
        lab = {json.loads(line)["row"] for line in open(tmp / "lab_removed.jsonl")}
        base = set(json.loads(baseline.read_text()))
        result["overlap"] = round(len(lab & base) / max(1, len(lab | base)), 6)
    return result


def semantic(rows: str, tmp: Path) -> dict:
    report = cli(rows, "--semantic", "0.95", "--out", str(tmp / "lab_sem.parquet"), "--force")
    step = report["funnel"][0]
    return {"texts": report["rows_in"], "duplicates": step["removed"], "step_s": step["seconds"],
            "texts_per_s": round(report["rows_in"] / step["seconds"], 1)}


def main() -> int:
    mode, rows = sys.argv[1], sys.argv[2]
    tmp = Path(os.environ.get("BENCH_TMP") or tempfile.mkdtemp())
    os.environ["LAB_HOME"] = tempfile.mkdtemp(prefix="labhome-", dir=tmp)  # fresh: no cached vectors
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result = dedup(rows, tmp) if mode == "dedup" else semantic(rows, tmp)
    print("BENCH_RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
