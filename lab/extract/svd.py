"""The decomposition: per linear layer, delta = W_model - W_base = U S Vh; keep the top k directions as
lora_B = U_k sqrt(S_k) and lora_A = sqrt(S_k) Vh_k (alpha = r, so PEFT's scale is 1 and B A is the kept delta).
The relative error of the kept delta is exact from the singular values: sqrt(sum of the dropped S^2 / sum of S^2).
One layer is in memory at a time (two tensors and their SVD)."""
from __future__ import annotations

import json
import math
import re
from contextlib import ExitStack
from pathlib import Path

from safetensors import safe_open

from lab.bars import Report
from lab.extract.plan import Plan

ADAPTER_FILE = "adapter_model.safetensors"


def kept_rank(s, rank: int | None, energy: float | None, size: int) -> int:
    """How many singular values to keep: the rank, or the fewest holding `energy` of sum(S^2) (capped by rank);
    never a direction below float32 noise (numpy's matrix_rank tolerance: S[0] * size * eps)."""
    full = int((s > s[0] * size * 1.2e-7).sum())
    k = full if energy is not None else min(rank, full)
    if energy is not None:
        sq = (s.double() ** 2).cumsum(0)
        k = int((sq < energy * sq[-1] * (1 - 1e-12)).sum()) + 1
        k = min(k, rank or k, full)
    return max(1, k)


def extract(p: Plan, rank: int | None, energy: float | None, out: Path, base_text: str, log=print,
            progress: Report | None = None) -> dict:
    """Write the adapter (weights and adapter_config.json) into `out`; returns what the check reports.
    `progress(done, total, tensor)` is called before each linear layer and once at the end (the job's bar moves
    per tensor)."""
    import torch  # heavy: torch
    from safetensors.torch import save_file  # heavy: safetensors.torch

    weights, ranks, layers = {}, {}, []
    dropped_sq = total_sq = dropped_other_sq = 0.0
    with ExitStack() as stack:
        files: dict[Path, object] = {}

        def read(where: dict, name: str):
            path = where[name]
            if path not in files:
                files[path] = stack.enter_context(safe_open(str(path), framework="pt"))
            return files[path].get_tensor(name)

        for i, name in enumerate(p.linear):
            if progress is not None:
                progress(i, len(p.linear), name)
            w = read(p.where, name)
            delta = w.float() - read(p.base_where, name).float()
            norm_sq = float(delta.pow(2).sum())
            if norm_sq == 0.0:
                continue  # an unchanged layer: no adapter weights for it
            u, s, vh = torch.linalg.svd(delta, full_matrices=False)
            k = kept_rank(s, rank, energy, max(delta.shape))
            root = s[:k].sqrt()
            module = name.removesuffix(".weight")
            weights[f"base_model.model.{module}.lora_A.weight"] = (root[:, None] * vh[:k]).to(w.dtype).contiguous()
            weights[f"base_model.model.{module}.lora_B.weight"] = (u[:, :k] * root[None, :]).to(w.dtype).contiguous()
            dropped = float((s[k:].double() ** 2).sum())
            ranks[module] = k
            total_sq += norm_sq
            dropped_sq += dropped
            layers.append({"layer": module, "rank": k, "relative_error": round(math.sqrt(dropped / norm_sq), 6)})
            if i % 20 == 0:
                log(f"{i + 1}/{len(p.linear)} layers")
        if progress is not None:
            progress(len(p.linear), len(p.linear), "")
        carried_not = []
        for name in p.other:
            a, b = read(p.where, name).float(), read(p.base_where, name).float()
            diff = float((a - b).pow(2).sum())
            if diff:
                dropped_other_sq += diff
                carried_not.append({"tensor": name, "relative_change": round(
                    math.sqrt(diff / max(float(b.pow(2).sum()), 1e-30)), 6)})
    if not weights:
        return {"layers": 0, "rank": 0, "relative_error": 0.0, "not_carried": carried_not, "per_layer": []}
    save_file(weights, str(out / ADAPTER_FILE), metadata={"format": "pt"})
    top = max(ranks.values())
    (out / "adapter_config.json").write_text(json.dumps(adapter_config(base_text, ranks, top), indent=2))
    all_sq = total_sq + dropped_other_sq
    return {"layers": len(ranks), "rank": top, "mean_rank": round(sum(ranks.values()) / len(ranks), 2),
            "relative_error": round(math.sqrt(dropped_sq / total_sq), 6),
            "relative_error_all": round(math.sqrt((dropped_sq + dropped_other_sq) / all_sq), 6),
            "not_carried": carried_not, "per_layer": layers}


def adapter_config(base_text: str, ranks: dict[str, int], top: int) -> dict:
    """PEFT's LoRA config: exactly the changed layers (a full-match regex on their names), alpha = r everywhere."""
    odd = {re.escape(m): r for m, r in ranks.items() if r != top}
    return {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_text,
            "r": top, "lora_alpha": top, "rank_pattern": odd, "alpha_pattern": dict(odd),
            "target_modules": "^(?:" + "|".join(re.escape(m) for m in ranks) + ")$",
            "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": False, "use_rslora": False,
            "modules_to_save": None, "inference_mode": True}
