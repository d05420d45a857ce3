"""Lab side: `python -m lab extract-lora` on the full fine-tune (in-process, as the CLI runs it).
BENCH_RESULT: relative_error, rank, layers; with --ranks, relative_error_rR for each rank (written to OUT/rR), and
with --mergekit, mergekit_diff_r16: the largest relative difference (Frobenius) between the lab's B@A and
mergekit-extract-lora's, layer by layer, at rank 16 (0: the same tensors); with --eval-task, the extract's own check
on that task (the Evaluate engine, first --eval-limit items): score_full (the full fine-tune), score_rR (the adapter
on its base) and score_diff_rR (adapter minus full) for each rank.
Usage: extract_lora.py FT BASE OUT --rank R [--ranks 8,16,64 [--mergekit] [--eval-task T --eval-limit N]]"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import subprocess

from safetensors.torch import load_file

from lab.__main__ import main as lab


def extract(ft: str, base: str, out: str, rank: int, task: list[str] = ()) -> dict:
    shutil.rmtree(out, ignore_errors=True)  # the bench's scratch: the last repetition's adapter
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert lab(["extract-lora", ft, "--base", base, "--rank", str(rank), "--out", out, *task]) == 0
    return json.loads(buf.getvalue())


def mergekit_diff(ft: str, base: str, lab_out: str, out: str) -> float:
    mk = shutil.which("mergekit-extract-lora") or "mergekit-extract-lora"
    subprocess.run([mk, "--model", ft, "--base-model", base, "--out-path", out, "--max-rank", "16"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ours, theirs = load_file(f"{lab_out}/adapter_model.safetensors"), load_file(f"{out}/adapter_model.safetensors")
    worst = 0.0
    for key in (k for k in ours if k.endswith("lora_A.weight")):
        b = key.replace("lora_A", "lora_B")
        mine, other = ours[b].float() @ ours[key].float(), theirs[b].float() @ theirs[key].float()
        worst = max(worst, float((mine - other).norm() / other.norm()))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ft")
    ap.add_argument("base")
    ap.add_argument("out")
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--ranks", default="")
    ap.add_argument("--mergekit", action="store_true")
    ap.add_argument("--eval-task", default="")
    ap.add_argument("--eval-limit", default="")
    args = ap.parse_args()
    task = ["--eval-task", args.eval_task, *(["--eval-limit", args.eval_limit] if args.eval_limit else [])] \
        if args.eval_task else []
    if args.ranks:
        res = {}
        for r in map(int, args.ranks.split(",")):
            got = extract(args.ft, args.base, f"{args.out}/r{r}", r, task)
            res[f"relative_error_r{r}"] = got["relative_error"]
            res[f"relative_error_all_r{r}"] = got["relative_error_all"]
            if "eval" in got:  # the full model's score is the same each time (the Evaluate cache answers it)
                res["score_full"] = got["eval"]["full"]
                res[f"score_r{r}"], res[f"score_diff_r{r}"] = got["eval"]["adapter"], got["eval"]["difference"]
        if args.mergekit and 16 in map(int, args.ranks.split(",")):
            res["mergekit_diff_r16"] = mergekit_diff(args.ft, args.base, f"{args.out}/r16", f"{args.out}/mk")
        print("BENCH_RESULT " + json.dumps(res))
        return
    got = extract(args.ft, args.base, args.out, args.rank)
    print("BENCH_RESULT " + json.dumps({k: got[k] for k in ("relative_error", "rank", "layers")}))


if __name__ == "__main__":
    main()
