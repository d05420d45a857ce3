"""Checks before launch: fail before anything heavy loads, clamp what can be clamped, estimate memory.

Everything here reads config files and the dataset only, never the weights.
"""
from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from lab.errors import LabError
from lab.hardware import Hardware, get_hardware
from lab.train.build import Plan, plan
from lab.train.recipe import TrainRecipe

_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}
TRACKERS = {"tensorboard": "tensorboard", "trackio": "trackio", "wandb": "wandb"}


@dataclass
class Preflight:
    recipe: TrainRecipe  # the effective recipe (clamped, template decided)
    plan: Plan
    kind: str  # sft | text | preference
    rows: int
    train_rows: int
    eval_rows: int
    memory: dict
    warnings: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"recipe": self.recipe.model_dump(mode="json"), "plan": self.plan.summary(), "kind": self.kind,
                "rows": self.rows, "train_rows": self.train_rows, "eval_rows": self.eval_rows,
                "memory": self.memory, "warnings": self.warnings}


def model_folders(ref: str, token: str | None = None) -> tuple[Path, Path | None]:
    """(folder with the base config, adapter folder or None): an adapter artifact trains on top of its base."""
    from lab.models.resolve import config_folder

    path = Path(ref).expanduser()
    if path.is_dir() and (path / "adapter_config.json").is_file() and not (path / "config.json").is_file():
        base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path", "")
        return config_folder(base, token=token), path
    return config_folder(ref, token=token), None


def model_facts(ref: str, token: str | None = None) -> dict:
    from lab.models.info import info_from_folder, read_config

    folder, adapter = model_folders(ref, token)
    cfg = read_config(folder)
    return {**info_from_folder(folder), "config": cfg.get("text_config", cfg), "adapter": str(adapter or "")}


def _lora_params(cfg: dict, r: int) -> int:
    """LoRA parameters for all-linear targets: r × (in + out) per linear layer."""
    h = cfg.get("hidden_size", 0)
    heads = cfg.get("num_attention_heads", 1) or 1
    kv = cfg.get("num_key_value_heads", heads) or heads
    hd = cfg.get("head_dim") or h // heads
    inter = cfg.get("intermediate_size", 4 * h)
    per_layer = (h + heads * hd) * 2 + (h + kv * hd) * 2 + (h + inter) * 3
    return r * per_layer * cfg.get("num_hidden_layers", 0)


def estimate_memory(facts: dict, recipe: TrainRecipe, p: Plan, hw: Hardware) -> dict:
    """GB for weights, adapter, gradients, optimizer, activations and overhead, with a verdict."""
    cfg, params = facts["config"], facts["params"]
    h, layers, vocab = cfg.get("hidden_size", 0), cfg.get("num_hidden_layers", 0), cfg.get("vocab_size", 0)
    w_bytes = _BYTES[p.load_dtype]
    embed = vocab * h
    weights = (params - embed) * 0.56 + embed * 2 if p.four_bit else params * w_bytes
    trainable = params if recipe.adapter == "full" else _lora_params(cfg, recipe.lora_r)
    t_bytes = w_bytes if recipe.adapter == "full" else 4
    adapter = 0 if recipe.adapter == "full" else trainable * t_bytes
    grads = trainable * t_bytes
    optimizer = trainable * 2 * t_bytes + (trainable * 4 if recipe.adapter == "full" and w_bytes == 2 else 0)
    seqs = recipe.batch_size * (2 if recipe.method == "dpo" else 1)
    tokens = seqs * recipe.max_seq_length
    act_b = _BYTES[p.precision]
    per_layer = tokens * h * (2 if p.gradient_checkpointing else 16) * act_b
    logits = tokens * vocab * 4 * 2  # fp32 logits and their gradient
    activations = per_layer * layers + logits  # SDPA/flash attention: no seq² score matrices kept
    reference = params * w_bytes if recipe.method == "dpo" and recipe.adapter == "full" else 0
    overhead = 0.8e9 if p.device == "cuda" else 0.6e9
    parts = {"weights": weights, "adapter": adapter, "gradients": grads, "optimizer": optimizer,
             "activations": activations, "reference model": reference, "overhead": overhead}
    total = sum(parts.values()) / 1e9
    avail = hw.gpus[0].vram_gb * 1.0737 if p.device == "cuda" else hw.ram_gb * 1.0737  # GiB -> GB
    verdict = "fits" if total <= 0.75 * avail else "tight" if total <= avail else "won't fit"
    return {"parts_gb": {k: round(v / 1e9, 2) for k, v in parts.items() if v}, "total_gb": round(total, 2),
            "available_gb": round(avail, 1), "verdict": verdict, "device": p.device}


def memory_text(mem: dict) -> str:
    parts = ", ".join(f"{k} {v:g}" for k, v in mem["parts_gb"].items())
    advice = {"fits": "", "tight": " Lower the batch or sequence length, or turn on gradient checkpointing.",
              "won't fit": " Use QLoRA, a smaller batch or sequence length, or gradient checkpointing."}
    return (f"Estimated {mem['total_gb']:g} GB of {mem['available_gb']:g} GB ({mem['device']}): "
            f"**{mem['verdict']}**. ({parts}).{advice[mem['verdict']]}")


def _check_static(recipe: TrainRecipe, hw: Hardware) -> None:
    if recipe.adapter == "qlora" and not hw.bnb_ok:
        raise LabError(f"QLoRA needs bitsandbytes 4-bit, which cannot run here ({hw.bnb_error or 'unavailable'}).",
                       "Choose adapter 'lora' (16-bit), or install a working bitsandbytes.", "adapter")
    module = TRACKERS.get(recipe.report_to)
    if module and importlib.util.find_spec(module) is None:
        raise LabError(f"report_to is {recipe.report_to}, but {module} is not installed.",
                       f"pip install {module}, or set report_to to none.", "report_to")


def check_rows(recipe: TrainRecipe, kind: str, rows: int) -> tuple[int, int, list[str]]:
    """(train rows, eval rows, warnings); errors when the data does not fit the method or one batch."""
    warnings = []
    if recipe.method == "dpo" and kind != "preference":
        raise LabError("DPO needs preference rows (prompt, chosen, rejected), but this dataset has "
                       f"{'plain text' if kind == 'text' else 'SFT conversations'}.",
                       "Pick a preference dataset, or switch the method to SFT.", "dataset")
    if recipe.method == "sft" and kind == "preference":
        warnings.append("SFT on preference data trains on the chosen answers only.")
    n_eval = max(1, int(rows * recipe.eval_split)) if recipe.eval_split else 0
    n_train = rows - n_eval
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if n_train < recipe.batch_size * world:
        raise LabError(f"The dataset has {n_train} training rows, fewer than one batch ({recipe.batch_size} rows"
                       f"{f' × {world} processes' if world > 1 else ''}).",
                       "Add rows (or raise max_rows), or lower batch_size.", "dataset")
    return n_train, n_eval, warnings


def check(recipe: TrainRecipe, hw: Hardware | None = None, token: str | None = None, ds=None) -> Preflight:
    """Every check that can run without the weights. `ds` is the loaded (normalized, kind) pair when known."""
    from lab.train.data import load_dataset

    hw = hw or get_hardware()
    _check_static(recipe, hw)
    facts = model_facts(recipe.model, token)
    if facts["adapter"] and recipe.adapter == "qlora":
        raise LabError("QLoRA cannot train on top of an existing adapter (it would merge into 4-bit weights).",
                       "Merge that adapter into a full model first (merge: true), or use adapter 'lora'.", "adapter")
    dataset, kind = ds or load_dataset(recipe.dataset, recipe.dataset_split, recipe.max_rows, token)
    n_train, n_eval, warnings = check_rows(recipe, kind, len(dataset))
    updates = {}
    limit = facts.get("max_positions")
    if limit and recipe.max_seq_length > limit:
        updates["max_seq_length"] = int(limit)
        warnings.append(f"max_seq_length {recipe.max_seq_length} is beyond the model's maximum ({limit}); "
                        f"clamped to {limit}.")
    if recipe.chat_template == "model" and not facts.get("chat_template"):
        updates["chat_template"] = "chatml"
        warnings.append("The model has no chat template; the run uses ChatML (saved with the result, so chat "
                        "with the same template).")
    eff = recipe.model_copy(update=updates) if updates else recipe
    p = plan(eff, hw)
    if p.four_bit and p.device == "cpu":
        warnings.append("4-bit on CPU works but is slow; the lab turns off bitsandbytes' AVX512-BF16 repack, "
                        "which would otherwise corrupt LoRA gradients after the first eval or generate().")
    mem = estimate_memory(facts, eff, p, hw)
    if mem["verdict"] != "fits":
        warnings.append(memory_text(mem))
    return Preflight(eff, p, kind, len(dataset), n_train, n_eval, mem, warnings, facts)
