"""The latest GPU check report (bench/gpu/results/*.json) as Markdown, for bench/RESULTS.md."""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.gpu import fast_table  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _f(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def markdown() -> list[str]:
    """Every report, oldest first: a later run may check only what an earlier one left open."""
    files = sorted(RESULTS.glob("*.json"))
    if not files:
        return ["No GPU check has been run yet (`bash bench/gpu/run.sh` on a GPU machine).", ""]
    return [line for f in files for line in _report(f)]


def _report(path: Path) -> list[str]:
    r = json.loads(path.read_text())
    if r.get("kind") == "fast":
        return _fast(path, r)
    env, items = r["environment"], r["items"]
    lines = [f"### GPU check: {path.stem} ({env.get('gpu')}, torch {env['torch']}, transformers "
             f"{env['transformers']}, trl {env['trl']}, bitsandbytes {env.get('bitsandbytes')})", "",
             r.get("note", ""), "", "Command: `bash bench/gpu/prepare.sh` here, then `bash bench/gpu/run.sh` there "
             "(bench/gpu/check.py; one run, so single values, not medians).", ""]
    lab = items.get("lab_vs_trl", {})
    if "sft" in lab:
        lines += [f"**QLoRA through the lab's CLI vs raw TRL** ({lab['model']} Llama from config, {lab['steps']} steps, "
                  f"batch {lab['batch']}, seq {lab['seq']}):", "",
                  "| method | lab tokens/s | TRL tokens/s | lab/TRL | lab peak VRAM GB | TRL peak VRAM GB | ratio | "
                  "lab estimate GB |", "|---|---|---|---|---|---|---|---|"]
        for m in ("sft", "dpo"):
            x = lab[m]
            lines.append(f"| {m} | {_f(x.get('lab_tokens_per_s'), 0)} | {_f(x.get('trl_tokens_per_s'), 0)} | "
                         f"{_f(x.get('tokens_per_s_ratio'))} | {_f(x.get('lab_peak_gb'))} | {_f(x.get('trl_peak_gb'))} "
                         f"| {_f(x.get('peak_vram_ratio'))} | {_f(x.get('estimate_gb'))} |")
        lines.append("")
    mem = items.get("memory", {})
    if mem.get("rows"):
        lines += [f"**Memory matrix on the GPU** ({mem['model']}; peak reserved and allocated by PyTorch vs the "
                  "estimate without the CUDA context):", "",
                  "| config | tokens | reserved GB | allocated GB | estimate at run GB | reserved/estimate | "
                  "estimate now GB | reserved/now | allocated/now |", "|---|---|---|---|---|---|---|---|---|"]
        for x in mem["rows"]:
            lines.append(f"| {x['config']} | {x.get('batch', {}).get('tokens')} | {_f(x.get('peak_reserved_gb'))} | "
                         f"{_f(x.get('peak_allocated_gb'))} | {_f(x.get('estimate_torch_gb'))} | "
                         f"{_f(x.get('reserved_over_estimate'))} | {_f(x.get('estimate_now_torch_gb'))} | "
                         f"{_f(x.get('reserved_over_estimate_now'))} | {_f(x.get('allocated_over_estimate_now'))} |")
        lines.append("")
    for name in ("watchdog", "fp16", "chat_4bit", "speed"):
        if name in items:
            x = {k: v for k, v in items[name].items() if k not in ("traceback", "message")}
            lines += [f"**{name}**: `{json.dumps(x, default=str)[:600]}`", ""]
    return lines


def _fast(path: Path, r: dict) -> list[str]:
    env = r.get("environment", {})
    return [f"### GPU fast path: {path.stem} ({env.get('gpu')}, torch {env.get('torch')}, transformers "
            f"{env.get('transformers')}, trl {env.get('trl')})", "", r.get("note", ""), "",
            "Command: `bash bench/gpu/prepare.sh` here, then `bash bench/gpu/run.sh fast` there (bench/gpu/fast.py; "
            "one run per column, so single values, not medians).", "", *fast_table.markdown(r)]
