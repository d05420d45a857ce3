"""Baseline: what a user runs without the lab, lm-eval's own CLI on the same model and task YAML:
`lm_eval --model hf --model_args pretrained=FOLDER,dtype=float32 --include_path . --tasks quiz --device cpu
--batch_size 8 --apply_chat_template`, from the task's folder. BENCH_RESULT: acc, and score_diff against the
reference the setup took (the same command: lm-eval is deterministic here). With --reference it writes that
reference instead. Usage: lm_eval_cli.py [--reference]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

MODELS = Path(os.environ.get("LAB_MODELS_DIR", Path.home() / ".cache" / "lab-test" / "models"))
FOLDER = MODELS / "HuggingFaceTB--SmolLM2-135M-Instruct"


def main(reference: bool) -> int:
    tmp = Path(os.environ["BENCH_TMP"])
    out = Path(tempfile.mkdtemp(dir=tmp, prefix="lm-eval-out-"))
    cmd = ["lm_eval", "--model", "hf", "--model_args", f"pretrained={FOLDER},dtype=float32", "--include_path", ".",
           "--tasks", "quiz", "--device", "cpu", "--batch_size", "8", "--apply_chat_template", "--output_path",
           str(out)]
    proc = subprocess.run(cmd, cwd=tmp / "tasks", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode:
        print(proc.stderr[-3000:], file=sys.stderr)
        return 1
    results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]["quiz"]
    acc = results["acc,none"]
    if reference:
        (tmp / "reference.json").write_text(json.dumps({"acc": acc, "acc_stderr": results["acc_stderr,none"]}))
        return 0
    ref = json.loads((tmp / "reference.json").read_text())["acc"]
    print("BENCH_RESULT " + json.dumps({"acc": acc, "score_diff": abs(acc - ref)}))
    return 0


if __name__ == "__main__":
    sys.exit(main("--reference" in sys.argv[1:]))
