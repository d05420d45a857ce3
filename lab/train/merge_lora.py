"""Merging a trained LoRA adapter into its 16-bit base, by a path that fits the machine.

A 7B base is 14.5 GB at 16 bits; a t4-small or a10g-small has about 15 GB of RAM. So before merging the lab checks
the disk (the merged copy is as big as the base) and picks:
  gpu     the base loads straight to a GPU with room for it, PEFT merges there;
  ram     the base fits in RAM with a margin, PEFT merges there;
  shards  neither: one safetensors shard of the base at a time, each adapted weight W + (alpha/r) · B @ A computed
          in fp32 and written back in the base's dtype; peak RAM is one shard, not the model.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from safetensors import safe_open

from lab.errors import LabError
from lab.models.info import count_params

GB = 1e9
MARGIN = 1.25  # a path is taken when it has this much more than the base's bytes free


def base_bytes(folder: Path) -> int:
    """Bytes of the base's weights at 16 bits (from the safetensors headers: no weight is read)."""
    params, _ = count_params(folder)
    return int(params * 2)


def choose(need: int, ram_free: int, vram_free: int | None) -> str:
    if vram_free is not None and vram_free >= MARGIN * need:
        return "gpu"
    if ram_free >= MARGIN * need:
        return "ram"
    return "shards"


def check_disk(out_parent: Path, need: int) -> None:
    free = shutil.disk_usage(out_parent).free
    if free < MARGIN * need:
        raise LabError(f"Merging needs about {need / GB:.1f} GB of disk for the merged copy; {free / GB:.1f} GB is "
                       f"free where the artifacts live.",
                       "Free disk space (Artifacts tab), or keep the adapter alone (merge: false).", "merge")


def _lora_pairs(adapter: Path) -> tuple[dict, float]:
    """{base weight name: (A, B)} and the scale alpha / r (alpha / sqrt(r) with rsLoRA)."""
    from safetensors.torch import load_file  # heavy: imports torch

    cfg = json.loads((adapter / "adapter_config.json").read_text())
    if cfg.get("use_dora") or cfg.get("rank_pattern") or cfg.get("alpha_pattern") or cfg.get("fan_in_fan_out"):
        raise LabError("This adapter uses DoRA, per-layer ranks or fan-in-fan-out weights, which the shard-by-shard "
                       "merge does not handle.", "Merge on a machine with more RAM or a GPU.", "merge")
    r, alpha = cfg["r"], cfg["lora_alpha"]
    scale = alpha / (r ** 0.5) if cfg.get("use_rslora") else alpha / r
    tensors = load_file(str(adapter / "adapter_model.safetensors"))
    pairs: dict[str, dict] = {}
    for key, value in tensors.items():
        m = re.match(r"base_model\.model\.(.+)\.lora_([AB])\.weight$", key)
        if m:
            pairs.setdefault(f"{m.group(1)}.weight", {})[m.group(2)] = value
    return {k: (v["A"], v["B"]) for k, v in pairs.items() if "A" in v and "B" in v}, scale


def target_dtype(cfg: dict):
    """The merged model's dtype: bf16, unless the base checkpoint says fp16."""
    import torch  # heavy: torch

    return torch.float16 if str(cfg.get("dtype") or cfg.get("torch_dtype")) == "float16" else torch.bfloat16


def merge_by_shard(base: Path, adapter: Path, out: Path, log=print) -> int:
    """Write base + adapter to `out` at 16 bits, one shard at a time. Returns how many weights were adapted."""
    # heavy: safetensors.torch imports torch
    from safetensors.torch import save_file  # heavy: safetensors.torch

    cfg = json.loads((base / "config.json").read_text())
    dtype = target_dtype(cfg)
    pairs, scale = _lora_pairs(adapter)
    shards = sorted(base.glob("*.safetensors"))
    done = 0
    for i, shard in enumerate(shards, 1):
        tensors, meta = {}, None
        with safe_open(str(shard), framework="pt") as f:
            meta = f.metadata()
            for name in f.keys():
                w = f.get_tensor(name)
                if name in pairs:
                    a, b = pairs[name]
                    w = w.float() + scale * (b.float() @ a.float())
                    done += 1
                tensors[name] = w.to(dtype) if w.is_floating_point() else w
        save_file(tensors, str(out / shard.name), metadata=meta or {"format": "pt"})
        del tensors
        log(f"Merged shard {i}/{len(shards)}.")
    if done != len(pairs):
        raise LabError(f"Only {done} of the adapter's {len(pairs)} weights were found in the base.",
                       "Check the adapter was trained on this base model.", "merge")
    for extra in base.glob("*.safetensors.index.json"):
        (out / extra.name).write_text(extra.read_text())
    cfg["dtype"] = str(dtype).replace("torch.", "")
    (out / "config.json").write_text(json.dumps(cfg, indent=2))
    if (base / "generation_config.json").is_file():
        (out / "generation_config.json").write_text((base / "generation_config.json").read_text())
    return done
