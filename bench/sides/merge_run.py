"""Lab side: `python -m lab merge CONFIG --out DIR` (in-process CLI), or with --job through the merge job.

The in-process CLI runs the same function the merge job's worker runs (lab.merge.worker.merge): parse and check
the YAML, preflight, resolve, mergekit's run_merge into a temp folder, the card and lineage, the final rename.
With --job the CLI submits the job and waits, as the UI does (a worker subprocess does the merge).
BENCH_RESULT: merge_s (CLI start to JSON), params, layers. The output is deleted afterwards, as the baseline does.
Usage: merge_run.py CONFIG [--job]
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import time
import uuid
from pathlib import Path


def main(config: str, job: bool) -> int:
    out = Path(os.environ.get("BENCH_TMP", "/tmp")) / f"lab-out-{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    from lab.__main__ import main as lab_main

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = lab_main(["merge", config, "--out", str(out), *(["--job"] if job else [])])
    merge_s = time.perf_counter() - t0
    if rc != 0:
        print(f"lab merge failed (rc={rc})", file=sys.stderr)
        return 1
    result = json.loads(stdout.getvalue())
    shutil.rmtree(out, ignore_errors=True)
    print("BENCH_RESULT " + json.dumps({"merge_s": round(merge_s, 3), "params": result["params"],
                                        "layers": result["layers"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--job" in sys.argv[2:]))
