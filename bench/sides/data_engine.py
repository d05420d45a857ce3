"""Both sides of the datatrove benchmark: `python -m lab data run RECIPE --out DIR` on ROWS, with the in-memory
engine (`memory`) or `--engine datatrove --tasks T --workers W` (`datatrove T W`).

The recipe: exact dedup, fuzzy dedup (0.6, word pairs) and the refusal filter, on the whole sample. Reports rows,
kept, and — when the other engine of an earlier repetition left its removed rows in $BENCH_TMP — `overlap`,
the Jaccard similarity of the two engines' kept rows.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

RECIPE = "sources:\n  - path: {rows}\nsteps:\n  - type: exact_dedup\n  - type: fuzzy_dedup\n    threshold: 0.6\n" \
         "  - type: refusals\n"


def main() -> int:
    rows, engine, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    tmp = Path(os.environ.get("BENCH_TMP") or tempfile.mkdtemp())
    os.environ["LAB_HOME"] = tempfile.mkdtemp(prefix="labhome-", dir=tmp)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("LAB_MAX_UPLOAD_MB", "100000")  # a benchmark file, not an upload
    recipe = tmp / "recipe.yaml"
    recipe.write_text(RECIPE.format(rows=rows))
    argv = ["data", "run", str(recipe), "--out", str(tmp / f"out-{engine}"), "--force",
            "--removed-out", str(tmp / f"removed-{engine}.jsonl")]
    if engine == "datatrove":
        argv += ["--engine", "datatrove", "--tasks", extra[0], "--workers", extra[1]]
    from lab.__main__ import main as lab

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        if lab(argv):
            raise SystemExit(1)
    report = json.loads(out.getvalue())
    result = {"rows": report["rows_in"], "kept": report["rows_out"]}
    other = tmp / f"removed-{'memory' if engine == 'datatrove' else 'datatrove'}.jsonl"
    if other.is_file():
        mine = {json.loads(line)["row"] for line in open(tmp / f"removed-{engine}.jsonl")}
        theirs = {json.loads(line)["row"] for line in open(other)}
        n = report["rows_in"]
        kept_a, kept_b = n - len(mine), n - len(theirs)
        both = n - len(mine | theirs)
        result["overlap"] = round(both / (kept_a + kept_b - both), 6)
    print("BENCH_RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
