"""Lab side: `python -m lab export REF --gguf TYPE --out DIR` (in-process CLI), optionally without the reload check.

BENCH_RESULT: export_s (CLI start to JSON: resolve, tokenizer, write, read-back, Modelfile, card), write_s (the
file's writing alone, as the lab times it), s_per_bparam (write_s per billion parameters), bytes, and, when the
check ran, the check's figures per type (<type>_top1, <type>_kl). The output is deleted afterwards.
Usage: export_run.py REF TYPE[,TYPE…] [--no-check]
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


def main(ref: str, types: str, check: bool) -> int:
    out = Path(os.environ.get("BENCH_TMP", "/tmp")) / f"lab-gguf-{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    from lab.__main__ import main as lab_main

    stdout, stderr = io.StringIO(), io.StringIO()
    args = ["export", ref, "--gguf", types, "--out", str(out), *([] if check else ["--no-check"])]
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = lab_main(args)
    export_s = time.perf_counter() - t0
    if rc != 0:
        print(f"lab export failed (rc={rc}): {stderr.getvalue()[-1500:]}", file=sys.stderr)
        return 1
    files = json.loads(stdout.getvalue())
    files = files if isinstance(files, list) else [files]
    result = json.loads((out / "check.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    write_s = sum(f["write_s"] for f in result)
    measures = {"export_s": round(export_s, 3), "write_s": round(write_s, 3),
                "s_per_bparam": round(write_s / result[0]["params"] * 1e9, 3), "bytes": sum(f["bytes"] for f in files)}
    for f in files:
        if "kl_mean" in f["check"]:
            measures[f"{f['type']}_top1"] = f["check"]["top1_agreement"]
            measures[f"{f['type']}_kl"] = f["check"]["kl_mean"]
    print("BENCH_RESULT " + json.dumps(measures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], "--no-check" not in sys.argv[3:]))
