"""Extract a LoRA (issue 25): the lab's extract-lora against mergekit-extract-lora on a real full fine-tune of the
bundled SmolLM2, and the relative error and the task score (adapter on its base vs the full model) at ranks
8/16/64."""
from __future__ import annotations

import shutil

from bench.core import PYTHON, Pair, side
from bench.suites.chat import DATA, ENV, FOLDER

SETUP = side("sides/extract_setup.py", "{tmp}", FOLDER, DATA)


def pairs(quick: bool) -> list[Pair]:
    mergekit = shutil.which("mergekit-extract-lora") or "mergekit-extract-lora"
    return [
        Pair("extract_r16", side("sides/extract_lora.py", "{tmp}/ft", FOLDER, "{tmp}/lab", "--rank", 16),
             [PYTHON, "-c", "import subprocess,sys,shutil; shutil.rmtree(sys.argv[-1], ignore_errors=True); "
              "subprocess.run(sys.argv[1:-1], check=True)", mergekit, "--model", "{tmp}/ft", "--base-model", str(FOLDER),
              "--out-path", "{tmp}/mk", "--max-rank", "16", "{tmp}/mk"],
             reps=3, quick_reps=2, env=ENV, setup=SETUP, timeout_s=600,
             targets={"wall_ratio": 1.1},
             note="A LoRA at rank 16 from a full fine-tune of SmolLM2-135M (8 AdamW steps on alpaca, every weight). "
                  "Lab: `python -m lab extract-lora` (headers compared, SVD per linear layer, artifact with card); "
                  "baseline: `mergekit-extract-lora --max-rank 16` on the same pair."),
        Pair("extract_ranks", side("sides/extract_lora.py", "{tmp}/ft", FOLDER, "{tmp}/ranks", "--ranks",
                                   "8,16,64", "--mergekit", "--eval-task", "{tmp}/quiz.jsonl", "--eval-limit",
                                   50 if quick else 200), None, reps=1, quick_reps=1, env=ENV, setup=SETUP,
             timeout_s=900,
             compare={"relative_error_r8": "lower", "relative_error_r16": "lower", "relative_error_r64": "lower",
                      "mergekit_diff_r16": "lower", "score_full": "higher", "score_r8": "higher",
                      "score_r16": "higher", "score_r64": "higher"},
             targets={"mergekit_diff_r16": 1e-5},
             note="Relative error (Frobenius) of the reconstructed weight difference over the linear layers, at "
                  "ranks 8, 16 and 64; *_all_* also counts the changed tensors a LoRA cannot carry (norms, "
                  "embeddings). mergekit_diff_r16: the largest relative difference between the lab's B@A and "
                  "mergekit-extract-lora's at rank 16, layer by layer. score_*: the extract's check on the eval "
                  "bench's one-digit-sum multiple choice (first 50 items quick, 200 full; acc): score_full the "
                  "fine-tune, score_rR its adapter on the base, score_diff_rR the adapter minus the full model."),
    ]
