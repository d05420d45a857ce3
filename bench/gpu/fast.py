"""The fast path on a GPU (issue 23): raw TRL with its defaults, the lab with its defaults, the lab with
`engine: unsloth` and a raw Unsloth script, side by side, on Llama models built from config (about 1B and 3B),
LoRA and QLoRA, SFT and DPO, max length 1024, batch 4: tokens/s, peak VRAM and the final loss of each.

    python bench/gpu/fast.py --assets DIR --out report.json [--budget-s 450] [--steps 20]
                             [--configs 1b-qlora-sft,1b-qlora-dpo,...] [--smoke]

The issue asks for 100 steps; eight configurations × four columns in under 8 minutes allow 20 (the default), so
the report says how many ran. The TRL columns run in this process one after the other (imports paid once, the
allocator's peak reset before each); the Unsloth columns each start a process, since Unsloth must load before
transformers. A column whose package is missing says "not installed"; a configuration that no longer fits the
budget says "out of time". The report is rewritten after every column, so a run cut short keeps what it measured.
--smoke: a tiny model on CPU, two steps of SFT, the lab column only (CI checks the plumbing, not the numbers).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench.gpu import check, fast_table  # noqa: E402

SIZES = ("1b", "3b")
ADAPTERS = ("qlora", "lora")
METHODS = ("sft", "dpo")
# the order they run in: what the goals turn on first, so a short budget measures the most useful
DEFAULT_CONFIGS = [("1b", "qlora", "sft"), ("1b", "qlora", "dpo"), ("3b", "qlora", "sft"), ("1b", "lora", "sft"),
                   ("3b", "qlora", "dpo"), ("1b", "lora", "dpo"), ("3b", "lora", "sft"), ("3b", "lora", "dpo")]
NEEDS_S = {"1b": 45, "3b": 90, "tiny": 5}  # seconds a configuration's TRL columns take, about, at 20 steps


def configs(text: str) -> list[tuple[str, str, str]]:
    """'1b-qlora-sft,3b-lora-dpo' -> [(size, adapter, method), ...]; empty: the default order of all eight."""
    if not text.strip():
        return list(DEFAULT_CONFIGS)
    out = []
    for item in text.split(","):
        parts = tuple(item.strip().lower().split("-"))
        if len(parts) != 3 or parts[0] not in (*SIZES, "tiny") or parts[1] not in ADAPTERS or parts[2] not in METHODS:
            raise SystemExit(f"--configs: {item!r} is not SIZE-ADAPTER-METHOD (sizes {SIZES}, adapters {ADAPTERS}, "
                             f"methods {METHODS}), e.g. 1b-qlora-sft")
        out.append(parts)
    return out


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assets", required=True, help="Folder with tokenizer/ and the two data files (prepare.sh).")
    p.add_argument("--out", required=True, help="The JSON report.")
    p.add_argument("--work", default="/tmp/lab-gpu-fast", help="Scratch folder for models and runs.")
    p.add_argument("--budget-s", type=float, default=450.0, help="Start no configuration after this many seconds.")
    p.add_argument("--steps", type=int, default=20, help="Optimizer steps per run (the issue's 100 do not fit 8 min).")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--configs", default="", help="Comma list of SIZE-ADAPTER-METHOD (default: all eight).")
    p.add_argument("--smoke", action="store_true", help="Tiny model on CPU, the lab column only.")
    args = p.parse_args(argv)
    args.config_list = [("tiny", "lora", "sft")] if args.smoke else configs(args.configs)
    if args.steps < 2:
        p.error("--steps: at least 2 (the first step is warm-up)")
    return args


def _summary(timed: list[dict], losses: list[dict], steps: int, peak) -> dict:
    return {"tokens_per_s": fast_table.speed(timed), "peak_vram_gb": peak,
            "final_loss": fast_table.final_loss(losses, steps), "steps": max((t["end"] for t in timed), default=0)}


def _lab_metrics(folder: Path, steps: int) -> dict:
    from lab.jobs.context import read_metrics

    rows = fast_table.intervals(read_metrics(folder / "metrics.jsonl"))
    mem = json.loads((folder / "preflight.json").read_text()).get("memory", {})
    ran = json.loads((folder / "preflight.json").read_text()).get("engine", {})
    return {**_summary(rows, rows, steps, mem.get("peak_gb")), "estimate_gb": mem.get("total_gb"),
            "engine": ran.get("engine"), "kernels": ran.get("kernels")}


def lab_column(c: "Run", size: str, adapter: str, method: str, model: Path, data: Path) -> dict:
    """The lab with its defaults, in this process (its worker, as the CLI's child runs it)."""
    from lab.hardware import set_hardware
    from lab.jobs.local import LocalContext
    from lab.train.recipe import TrainRecipe
    from lab.train.worker import train

    folder = c.work / f"lab-{size}-{adapter}-{method}"
    shutil.rmtree(folder, ignore_errors=True)
    recipe = TrainRecipe(method=method, adapter="lora" if c.args.smoke else adapter, model=str(model),
                         dataset=str(data), max_steps=c.steps, batch_size=c.args.batch, max_seq_length=c.seq,
                         save_steps=100_000, learning_rate=2e-4 if method == "sft" else 5e-6, auto_fit=[])
    set_hardware(None)
    c.free()
    train(recipe, folder, LocalContext(folder, recipe.model_dump()))
    return _lab_metrics(folder, c.steps)


def trl_column(c: "Run", size: str, adapter: str, method: str, model: Path, data: Path) -> dict:
    from bench.gpu import raw_trl

    c.free()
    out = raw_trl.run(method, str(model), str(data), adapter, c.steps, c.args.batch, c.seq)
    return _summary(out["timed"], out["losses"], c.steps, out["peak_vram_gb"])


def lab_unsloth_column(c: "Run", size: str, adapter: str, method: str, model: Path, data: Path) -> dict:
    if importlib.util.find_spec("unsloth") is None:
        return {"skipped": "not installed"}
    folder = c.work / f"lab-unsloth-{size}-{adapter}-{method}"
    shutil.rmtree(folder, ignore_errors=True)
    rc, _, stderr = check._subprocess([sys.executable, "-m", "lab", "train", "--engine", "unsloth", "--method", method,
                                       "--model", str(model), "--dataset", str(data), "--adapter", adapter,
                                       "--max-steps", str(c.steps), "--batch-size", str(c.args.batch),
                                       "--max-seq-length", str(c.seq), "--save-steps", "100000", "--out", str(folder),
                                       "--learning-rate", "2e-4" if method == "sft" else "5e-6"])
    if rc:
        return {"error": stderr.strip()[-400:] or f"exit {rc}"}
    return _lab_metrics(folder, c.steps)


def unsloth_column(c: "Run", size: str, adapter: str, method: str, model: Path, data: Path) -> dict:
    if importlib.util.find_spec("unsloth") is None:
        return {"skipped": "not installed"}
    rc, stdout, stderr = check._subprocess([sys.executable, str(ROOT / "bench" / "gpu" / "raw_unsloth.py"), "--method",
                                            method, "--model", str(model), "--data", str(data), "--adapter", adapter,
                                            "--steps", str(c.steps), "--batch", str(c.args.batch), "--seq", str(c.seq)])
    if rc:
        return {"error": stderr.strip()[-400:] or f"exit {rc}"}
    out = check._bench_result(stdout)
    return _summary(out["timed"], out["losses"], c.steps, out["peak_vram_gb"])


COLUMN_FNS = {"trl": trl_column, "lab": lab_column, "lab_unsloth": lab_unsloth_column, "unsloth": unsloth_column}


class Run:
    def __init__(self, args):
        self.args, self.t0 = args, time.time()
        self.assets, self.work = Path(args.assets).resolve(), Path(args.work).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.steps, self.seq = (2, 64) if args.smoke else (args.steps, args.seq)
        self.report = {"kind": "fast", "started": time.strftime("%Y-%m-%d %H:%M:%S"), "smoke": args.smoke,
                       "steps": self.steps, "batch": args.batch, "seq": self.seq, "rows": []}

    def left(self) -> float:
        return self.args.budget_s - (time.time() - self.t0)

    def free(self) -> None:
        check._free()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
        except ImportError:
            pass

    def save(self) -> None:
        self.report["elapsed_s"] = round(time.time() - self.t0, 1)
        Path(self.args.out).write_text(json.dumps(self.report, indent=2, default=str))


def main(argv=None) -> int:
    args = parse(argv)
    import os

    os.environ.update(LAB_HOME=str(Path(args.work) / "labhome"), LAB_MODELS_DIR=str(Path(args.work) / "models"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    c = Run(args)
    c.report["environment"] = check.environment()
    columns = ["lab"] if args.smoke else list(fast_table.COLUMNS)
    for size, adapter, method in args.config_list:
        row = {"size": size, "adapter": adapter, "method": method,
               **{col: {"skipped": "not run (smoke)"} for col in fast_table.COLUMNS if col not in columns}}
        c.report["rows"].append(row)
        if c.left() < NEEDS_S.get(size, 60) * c.steps / 20:
            row.update({col: {"skipped": "out of time"} for col in columns})
            c.save()
            continue
        model = check.build_model(size, c.assets, c.work)
        data = c.assets / ("alpaca_en_demo.json" if method == "sft" else "dpo_en_demo.json")
        for col in columns:
            t = time.time()
            try:
                row[col] = {**COLUMN_FNS[col](c, size, adapter, method, model, data), "wall_s": round(time.time() - t, 1)}
            except Exception as exc:  # noqa: BLE001 - one column failing must not lose the others
                row[col] = {"error": f"{type(exc).__name__}: {exc}"[:600]}
            print(f"[{time.time() - c.t0:6.1f}s] {size} {adapter} {method} {col}: {json.dumps(row[col])[:300]}",
                  flush=True)
            c.save()
    print("\n".join(fast_table.markdown(c.report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
