"""The GPU check: one script a single-GPU machine without Hub access runs in under 8 minutes (bench/gpu/README.md).

It builds Llama-architecture models from config (about 1B and 3B, random weights, the bundled SmolLM2
tokenizer) and measures, writing one JSON report after every item (a run cut short keeps what it measured):
  lab_vs_trl   QLoRA SFT and DPO on the 3B through the lab's CLI (its worker, preflight and watchdog) against raw
               TRL scripts (bench/baselines): tokens/s and peak VRAM, and the lab's estimate against its peak;
  memory       the memory matrix on the 1B (SFT/DPO × LoRA/QLoRA/full × two lengths): estimate vs measured;
  watchdog     a deliberately oversized batch, run anyway: the lab must stop it cleanly, with its numbers;
  fp16         the T4 path forced (fp16 AMP, no bf16): QLoRA SFT trains with finite, falling loss;
  chat_4bit    4-bit chat generation through the Chat tab's core: tokens/s;
  speed        where the lab's SFT step time goes (CLI, in one process, raw TRL);
  methods      GRPO and KTO with LoRA on the 1B through the lab's CLI against raw TRL scripts: step time.

    python bench/gpu/check.py --assets DIR --out report.json [--budget-s 450] [--smoke]

--smoke runs every item on a tiny model on CPU (what CI checks): no numbers worth reading, but every code path.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
LLAMA = dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_act="silu", rms_norm_eps=1e-5,
             max_position_embeddings=4096, rope_theta=500000.0, tie_word_embeddings=True)
SIZES = {
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8),
    "3b": dict(hidden_size=3072, intermediate_size=8192, num_hidden_layers=28, num_attention_heads=24,
               num_key_value_heads=8),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2),
}


class Check:
    def __init__(self, args):
        self.args, self.t0 = args, time.time()
        self.assets = Path(args.assets).resolve()
        self.work = Path(args.work).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.report: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "smoke": args.smoke, "items": {}}
        self.sft_data, self.dpo_data = self.assets / "alpaca_en_demo.json", self.assets / "dpo_en_demo.json"
        os.environ["LAB_HOME"] = str(self.work / "labhome")
        os.environ["LAB_MODELS_DIR"] = str(self.work / "models")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")

    def left(self) -> float:
        return self.args.budget_s - (time.time() - self.t0)

    def save(self) -> None:
        self.report["elapsed_s"] = round(time.time() - self.t0, 1)
        Path(self.args.out).write_text(json.dumps(self.report, indent=2, default=str))

    def item(self, name: str, fn, need_s: float) -> None:
        if self.left() < need_s:
            self.report["items"][name] = {"skipped": f"out of time ({self.left():.0f} s left, needs ~{need_s:.0f} s)"}
        else:
            t = time.time()
            try:
                self.report["items"][name] = {**fn(), "wall_s": round(time.time() - t, 1)}
            except Exception as exc:  # noqa: BLE001 - one item failing must not lose the others
                self.report["items"][name] = {"error": f"{type(exc).__name__}: {exc}",
                                              "traceback": traceback.format_exc()[-3000:]}
        print(f"[{time.time() - self.t0:6.1f}s] {name}: {json.dumps(self.report['items'][name])[:600]}", flush=True)
        self.save()


def environment() -> dict:
    import peft
    import torch
    import transformers
    import trl

    out = {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
           "peft": peft.__version__, "cuda": torch.cuda.is_available(), "python": sys.version.split()[0]}
    try:
        import bitsandbytes

        out["bitsandbytes"] = bitsandbytes.__version__
    except ImportError as exc:
        out["bitsandbytes"] = f"missing: {exc}"
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        out.update(gpu=p.name, capability=f"{p.major}.{p.minor}", vram_gb=round(p.total_memory / 1e9, 1))
    return out


def build_model(size: str, assets: Path, work: Path) -> Path:
    """A random-weight Llama of `size` with the bundled tokenizer, saved as safetensors (built on the GPU)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder = work / f"llama-{size}"
    if (folder / "config.json").is_file():
        return folder
    tok = AutoTokenizer.from_pretrained(assets / "tokenizer")
    cfg = AutoConfig.for_model(**LLAMA, **SIZES[size], vocab_size=len(tok), bos_token_id=tok.bos_token_id,
                               eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    del model
    _free()
    return folder


def _free() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _subprocess(argv: list[str], env: dict | None = None, timeout: float = 400) -> tuple[int, str, str]:
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                               **(env or {})})
    return proc.returncode, proc.stdout, proc.stderr


def _bench_result(stdout: str) -> dict:
    lines = [x for x in stdout.splitlines() if x.startswith("BENCH_RESULT ")]
    return json.loads(lines[-1].split(" ", 1)[1]) if lines else {}


def _lab_cli(model: Path, data: Path, method: str, out: Path, steps: int, batch: int, seq: int,
             adapter: str = "qlora", extra: list[str] = (), env: dict | None = None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    rc, stdout, stderr = _subprocess([sys.executable, "-m", "lab", "train", "--method", method, "--model", str(model),
                                      "--dataset", str(data), "--adapter", adapter, "--max-steps", str(steps),
                                      "--batch-size", str(batch), "--max-seq-length", str(seq), "--save-steps",
                                      "1000", "--out", str(out), *extra], env=env)
    result = json.loads(stdout[stdout.index("{"):]) if rc == 0 and "{" in stdout else {}
    mem = {}
    if (out / "preflight.json").is_file():
        mem = json.loads((out / "preflight.json").read_text()).get("memory", {})
    return {"rc": rc, "result": result, "memory": mem, "stderr_tail": stderr[-1500:] if rc else ""}


def _lab_tokens_per_s(folder: Path, skip: int = 2) -> float | None:
    """tokens/s over steps after the first `skip`, as the baselines measure it (sum of tokens / sum of time)."""
    from bench.gpu.fast_table import intervals, speed  # a GPU run logs a row every few steps
    from lab.jobs.context import read_metrics

    rows = intervals(read_metrics(folder / "metrics.jsonl"))
    return speed([r for r in rows if r["end"] > skip] or rows)


def lab_vs_trl(c: Check) -> dict:
    size, steps, seq = ("tiny", 3, 64) if c.args.smoke else ("3b", 12, 512)
    model = build_model(size, c.assets, c.work)
    out = {"model": size, "steps": steps, "batch": 4, "seq": seq}
    for method, data, script in (("sft", c.sft_data, "trl_sft.py"), ("dpo", c.dpo_data, "trl_dpo.py")):
        folder = c.work / f"lab-{method}"
        lab = _lab_cli(model, data, method, folder, steps, 4, seq)
        rc, stdout, stderr = _subprocess([sys.executable, str(ROOT / "bench" / "baselines" / script), "--model",
                                          str(model), "--data", str(data), "--steps", str(steps), "--batch", "4",
                                          "--seq", str(seq), "--qlora"])
        trl = _bench_result(stdout) if rc == 0 else {"error": stderr[-1500:]}
        lab_tps, mem = _lab_tokens_per_s(folder), lab["memory"]
        row = {"lab_rc": lab["rc"], "lab_error": lab["stderr_tail"], "lab_tokens_per_s": lab_tps,
               "trl_tokens_per_s": trl.get("tokens_per_s"), "lab_peak_gb": mem.get("peak_gb"),
               "trl_peak_gb": trl.get("peak_vram_gb"), "estimate_gb": mem.get("total_gb"),
               "lab_last_loss": lab["result"].get("last_loss"), "trl_last_loss": trl.get("last_loss"),
               "trl_error": trl.get("error", "")}
        if lab_tps and row["trl_tokens_per_s"]:
            row["tokens_per_s_ratio"] = round(lab_tps / row["trl_tokens_per_s"], 3)
        if row["lab_peak_gb"] and row["trl_peak_gb"]:
            row["peak_vram_ratio"] = round(row["lab_peak_gb"] / row["trl_peak_gb"], 3)
        if row["lab_peak_gb"] and row["estimate_gb"]:
            row["measured_over_estimate"] = round(row["lab_peak_gb"] / row["estimate_gb"], 3)
        out[method] = row
    return out


def _lab_step_times(folder: Path, skip: int = 2) -> dict:
    from lab.jobs.context import read_metrics

    rows = [r for r in read_metrics(folder / "metrics.jsonl") if r.get("step_time")][skip:]
    times = sorted(r["step_time"] for r in rows)
    tokens = [r["tokens_per_s"] * r["step_time"] for r in rows if r.get("tokens_per_s")]
    return {"step_time_s": times[len(times) // 2] if times else None,
            "tokens_per_step": round(sum(tokens) / len(tokens), 1) if tokens else None,
            "step_times": [round(t, 3) for t in times]}


def speed(c: Check) -> dict:
    """Where does the lab's step time go? The same QLoRA SFT through the CLI (child process under the watchdog),
    in one process (no watchdog), and as raw TRL."""
    size, steps, seq = ("tiny", 4, 64) if c.args.smoke else ("1b", 16, 512)
    model = build_model(size, c.assets, c.work)
    out = {"model": size, "steps": steps}
    variants = {"lab_cli": {}, "lab_in_process": {"LAB_TRAIN_CHILD": "1"}}
    for name, env in variants.items():
        folder = c.work / f"speed-{name}"
        run = _lab_cli(model, c.sft_data, "sft", folder, steps, 4, seq, env=env)
        out[name] = {"rc": run["rc"], "tokens_per_s": _lab_tokens_per_s(folder), **_lab_step_times(folder),
                     "error": run["stderr_tail"][-500:]}
    rc, stdout, stderr = _subprocess([sys.executable, str(ROOT / "bench" / "baselines" / "trl_sft.py"), "--model",
                                      str(model), "--data", str(c.sft_data), "--steps", str(steps), "--batch", "4",
                                      "--seq", str(seq), "--qlora"])
    out["trl"] = _bench_result(stdout) if rc == 0 else {"error": stderr[-1000:]}
    return out


GRPO_REWARDS = ["--reward", r"format:^\s*<answer>\s*-?\d+\s*</answer>\s*$", "--reward", "exact"]


def methods(c: Check) -> dict:
    """GRPO (2 prompts × 4 answers of ≤ 16 tokens, format + exact rewards on the lab's arithmetic set) and KTO
    (batch 4, sequence 512, the DPO demo's pairs unpaired) with LoRA: the lab's CLI against the raw TRL scripts
    of bench/baselines, the same config; median step time over steps 3..N."""
    from lab.train import arith

    size, steps, seq = ("tiny", 4, 64) if c.args.smoke else ("1b", 12, 512)
    model, arith_data = build_model(size, c.assets, c.work), arith.ensure() / "data.jsonl"
    grpo_lab = ["--reward-errors", "stop", "--num-generations", "4", "--max-completion-length", "16",
                "--learning-rate", "2e-4", "--scheduler", "constant", "--warmup-ratio", "0", *GRPO_REWARDS]
    runs = {"grpo": (arith_data, 8, grpo_lab, ["trl_grpo.py", "--batch", "8", "--generations", "4",
                                               "--completion", "16", "--lr", "2e-4"]),
            "kto": (c.dpo_data, 4, ["--learning-rate", "5e-6"], ["trl_kto.py", "--batch", "4", "--seq", str(seq),
                                                                 "--lr", "5e-6"])}
    out = {"model": size, "steps": steps}
    for method, (data, batch, lab_extra, (script, *base_extra)) in runs.items():
        folder = c.work / f"method-{method}"
        lab = _lab_cli(model, data, method, folder, steps, batch, seq, adapter="lora", extra=lab_extra)
        rc, stdout, stderr = _subprocess([sys.executable, str(ROOT / "bench" / "baselines" / script), "--model",
                                          str(model), "--data", str(data), "--steps", str(steps), *base_extra])
        trl = _bench_result(stdout) if rc == 0 else {"error": stderr[-1000:]}
        row = {"lab_rc": lab["rc"], "lab_error": lab["stderr_tail"][-800:], **_lab_step_times(folder),
               "trl_step_time_s": trl.get("step_time_s"), "trl_error": trl.get("error", ""),
               "lab_peak_gb": lab["memory"].get("peak_gb"), "trl_peak_gb": trl.get("peak_vram_gb"),
               "estimate_gb": lab["memory"].get("total_gb")}
        if row["step_time_s"] and row["trl_step_time_s"]:
            row["step_time_ratio"] = round(row["step_time_s"] / row["trl_step_time_s"], 3)
        out[method] = row
    return out


MATRIX = [(m, a, s) for m in ("sft", "dpo") for a in ("qlora", "lora", "full") for s in ("short", "long")]


def memory_matrix(c: Check) -> dict:
    """The lab's own worker in this process, one run after another; the allocator's peak is reset before each."""
    from lab.hardware import set_hardware
    from lab.jobs.local import LocalContext
    from lab.train.recipe import TrainRecipe
    from lab.train.worker import train

    size, steps = ("tiny", 2) if c.args.smoke else ("1b", 3)
    lengths = {"short": 128, "long": 256} if c.args.smoke else {"short": 256, "long": 1024}
    model = build_model(size, c.assets, c.work)
    set_hardware(None)
    rows = []
    for method, adapter, which in MATRIX:
        if c.left() < 25:
            rows.append({"config": f"{method} {adapter} {which}", "skipped": "out of time"})
            continue
        batch = 4 if method == "sft" else 2
        folder = c.work / f"mem-{method}-{adapter}-{which}"
        shutil.rmtree(folder, ignore_errors=True)
        recipe = TrainRecipe(method=method, adapter=adapter, model=str(model), max_steps=steps, batch_size=batch,
                             max_seq_length=lengths[which], max_rows=steps * batch, save_steps=1000,
                             dataset=str(c.sft_data if method == "sft" else c.dpo_data),
                             learning_rate=2e-4 if method == "sft" else 5e-6)
        _free()
        try:
            train(recipe, folder, LocalContext(folder, recipe.model_dump()))
            mem = json.loads((folder / "preflight.json").read_text())["memory"]
            torch_est = mem["total_gb"] - mem["parts_gb"].get("runtime", 0)
            rows.append({"config": f"{method} {adapter} {lengths[which]}", "estimate_gb": mem["total_gb"],
                         "estimate_torch_gb": round(torch_est, 3), "peak_reserved_gb": mem.get("peak_gb"),
                         "peak_allocated_gb": mem.get("peak_allocated_gb"), "batch": mem["batch"],
                         "reserved_over_estimate": round(mem["peak_gb"] / torch_est, 3) if mem.get("peak_gb") else None,
                         "parts_gb": mem["parts_gb"]})
        except Exception as exc:  # noqa: BLE001
            rows.append({"config": f"{method} {adapter} {which}", "error": f"{type(exc).__name__}: {exc}"[:1500]})
    ratios = [r["reserved_over_estimate"] for r in rows if r.get("reserved_over_estimate")]
    return {"model": size, "rows": rows, "ratio_min": min(ratios, default=None), "ratio_max": max(ratios, default=None)}


def watchdog(c: Check) -> dict:
    """An oversized batch, run anyway: stopped by the lab (GPU: the allocator cap; CPU: the RSS watchdog)."""
    size = "tiny" if c.args.smoke else "1b"
    model = build_model(size, c.assets, c.work)
    env = {"LAB_MEMORY_LIMIT_GB": "1.6"} if c.args.smoke else {"LAB_GPU_MEMORY_SHARE": "0.15"}
    # packed rows fill every sequence and checkpointing is off: far past the cap, whatever the rows' lengths
    out = _lab_cli(model, c.sft_data, "sft", c.work / "oversized", 2, 16, 2048, adapter="lora",
                   extra=["--force", "--max-rows", "400", "--packing", "--gradient-checkpointing", "off"], env=env)
    text = out["stderr_tail"]
    return {"rc": out["rc"], "stopped_cleanly": out["rc"] == 2 and "stopped at" in text, "message": text[-600:],
            "env": env}


def fp16_forced(c: Check) -> dict:
    """The T4 path: the probe says compute capability 7.5, so the run is fp16 AMP (GradScaler), never bf16."""
    import torch

    from lab.hardware import Gpu, Hardware, get_hardware, set_hardware
    from lab.jobs.local import LocalContext
    from lab.train.recipe import TrainRecipe
    from lab.train.worker import train

    if not torch.cuda.is_available():
        return {"skipped": "needs CUDA"}
    real = get_hardware()
    set_hardware(Hardware(gpus=(Gpu("Tesla T4 (forced)", real.gpus[0].vram_gb, (7, 5)),), bnb_ok=real.bnb_ok,
                          ram_gb=real.ram_gb, disk_free_gb=real.disk_free_gb, cpu_count=real.cpu_count))
    try:
        model = build_model("1b", c.assets, c.work)
        folder = c.work / "fp16"
        shutil.rmtree(folder, ignore_errors=True)
        recipe = TrainRecipe(adapter="qlora", model=str(model), dataset=str(c.sft_data), max_steps=6, batch_size=4,
                             max_seq_length=512, max_rows=24, save_steps=1000)
        _free()
        result = train(recipe, folder, LocalContext(folder, recipe.model_dump()))
        pre = json.loads((folder / "preflight.json").read_text())
        return {"plan": pre["plan"], "first_loss": result.get("first_loss"), "last_loss": result.get("last_loss"),
                "tokens_per_s": _lab_tokens_per_s(folder), "peak_gb": pre["memory"].get("peak_gb"),
                "estimate_gb": pre["memory"]["total_gb"]}
    finally:
        set_hardware(None)


def chat_4bit(c: Check) -> dict:
    import torch

    from lab.chat.registry import Registry
    from lab.chat.spec import ChatSpec
    from lab.chat.stream import collect

    model = build_model("tiny" if c.args.smoke else "1b", c.assets, c.work)
    four_bit = torch.cuda.is_available()
    spec = ChatSpec(models=[str(model)], temperature=0.0, max_new_tokens=128, load_in_4bit=four_bit)
    messages = [[{"role": "user", "content": "Write a haiku about memory."}]]
    _free()
    reg = Registry()
    collect([str(model)], messages, spec, registry=reg)  # warm-up: load and first generation
    reply = collect([str(model)], messages, spec, registry=reg)[0]
    out = {"four_bit": four_bit, "stats": reply.stats, "error": reply.error}
    if four_bit:
        out["vram_reserved_gb"] = round(torch.cuda.memory_reserved() / 1e9, 2)
    reg.clear()
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--assets", required=True, help="Folder with tokenizer/ and the two data files (prepare.sh).")
    p.add_argument("--out", required=True, help="The JSON report.")
    p.add_argument("--work", default="/tmp/lab-gpu-check", help="Scratch folder for models and runs.")
    p.add_argument("--budget-s", type=float, default=450.0, help="Stop starting items after this many seconds.")
    p.add_argument("--smoke", action="store_true", help="Tiny model on CPU: every code path, no real numbers.")
    p.add_argument("--only", default="", help="Comma list of items to run (default: all).")
    args = p.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    c = Check(args)
    c.report["environment"] = environment()
    c.save()
    items = [("lab_vs_trl", lab_vs_trl, 120), ("memory", memory_matrix, 60), ("watchdog", watchdog, 45),
             ("fp16", fp16_forced, 30), ("chat_4bit", chat_4bit, 20), ("speed", speed, 90),
             ("methods", methods, 90)]
    wanted = [x for x in args.only.split(",") if x]  # in the order given
    by_name = {name: (fn, need) for name, fn, need in items}
    for name in wanted or list(by_name):
        fn, need = by_name[name]
        c.item(name, lambda fn=fn: fn(c), need)
    return 0


if __name__ == "__main__":
    sys.exit(main())
