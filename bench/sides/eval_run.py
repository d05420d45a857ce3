"""Lab side: `python -m lab eval --model HuggingFaceTB/SmolLM2-135M-Instruct --task quiz.jsonl --out DIR` on the
200-item multiple-choice task the setup wrote (the same YAML the baseline's lm_eval runs), chat template on as the
baseline's --apply_chat_template. --no-cache recomputes (the parity pair); without it the warm cache answers (the
cached re-run pair). BENCH_RESULT: acc, score_diff against lm-eval's own score (reference.json), eval_s.
Usage: eval_run.py [--no-cache]
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import uuid
from pathlib import Path


def main(no_cache: bool) -> int:
    t0 = time.perf_counter()
    tmp = Path(os.environ["BENCH_TMP"])
    from lab.__main__ import main as lab_main

    out = tmp / f"lab-out-{uuid.uuid4().hex[:8]}"
    argv = ["eval", "--model", "HuggingFaceTB/SmolLM2-135M-Instruct", "--task", str(tmp / "quiz.jsonl"), "--out",
            str(out), "--chat-template", "on", "--batch-size", "8", *(["--no-cache"] if no_cache else [])]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = lab_main(argv)
    if rc != 0:
        print(f"lab eval failed (rc={rc})", file=sys.stderr)
        return 1
    acc = json.loads(stdout.getvalue())["models"][0]["scores"]["quiz"]["acc"]
    ref = json.loads((tmp / "reference.json").read_text())["acc"]
    print("BENCH_RESULT " + json.dumps({"acc": acc, "score_diff": abs(acc - ref),
                                        "eval_s": round(time.perf_counter() - t0, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main("--no-cache" in sys.argv[1:]))
