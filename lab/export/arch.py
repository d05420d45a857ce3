"""Which architectures the lab's own GGUF writer knows, and what each needs (checked from config.json alone).

llama.cpp's `llama` architecture rotates adjacent pairs of each head's dimensions (Meta's original layout),
while Hugging Face checkpoints pair dimension i with i + head_dim/2; so the writer interleaves the rows of
q_proj and k_proj for `llama` files, and transformers undoes it when it reads them back. Qwen2/Qwen3 files use
llama.cpp's NeoX rotation, which pairs dimensions as Hugging Face does, and keep the rows as they are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lab.errors import LabError

ALTERNATIVE = ("Point LAB_LLAMA_CPP at a llama.cpp checkout (its convert_hf_to_gguf.py knows ~100 architectures), "
               "or export the safetensors folder and convert it with llama.cpp yourself.")


@dataclass(frozen=True)
class Arch:
    label: str  # what the UI lists
    gguf_name: str  # general.architecture in the file
    interleave_qk: bool  # llama.cpp's rotary layout for q/k (see the module doc)
    rope_dims: bool  # writes rope.dimension_count


ARCHES = {
    "LlamaForCausalLM": Arch("Llama (Llama 2/3, SmolLM, TinyLlama…)", "llama", True, True),
    "MistralForCausalLM": Arch("Mistral", "llama", True, True),
    "Qwen2ForCausalLM": Arch("Qwen2 / Qwen2.5", "qwen2", False, False),
    "Qwen3ForCausalLM": Arch("Qwen3", "qwen3", False, False),
}
ROPE_TYPES = ("default", "linear", "llama3")


def supported_labels() -> list[str]:
    return [a.label for a in ARCHES.values()]


def text_config(cfg: dict) -> dict:
    return cfg.get("text_config", cfg)


def architecture_of(cfg: dict) -> str:
    return (cfg.get("architectures") or [cfg.get("model_type", "unknown")])[0]


def rope_params(cfg: dict) -> dict:
    """transformers 5 writes rope_parameters; older configs have rope_theta and rope_scaling."""
    params = dict(cfg.get("rope_parameters") or {})
    params.setdefault("rope_theta", cfg.get("rope_theta", 10000.0))
    scaling = cfg.get("rope_scaling") or {}
    for key, value in scaling.items():
        params.setdefault(key, value)
    params["rope_type"] = params.get("rope_type") or params.get("type") or "default"
    return params


def check_architecture(cfg: dict) -> Arch:
    """The writer's plan for this config, or a LabError naming what is not supported and the way out."""
    name = architecture_of(cfg)
    arch = ARCHES.get(name)
    if arch is None:
        raise LabError(f"The lab's GGUF writer does not know the architecture {name}. It supports: "
                       + ", ".join(supported_labels()) + ".", ALTERNATIVE, "source")
    rope = rope_params(text_config(cfg))["rope_type"]
    if rope not in ROPE_TYPES:
        raise LabError(f"{name} uses '{rope}' rope scaling, which the lab's GGUF writer does not write "
                       f"(it writes {', '.join(ROPE_TYPES)}).", ALTERNATIVE, "source")
    return arch


def head_dim(cfg: dict) -> int:
    return int(cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"])


def interleave_rotary_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """Per head, rows (first half, second half) -> (h0[0], h1[0], h0[1], h1[1], …): weights and biases alike."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama3_rope_factors(params: dict, dim: int) -> np.ndarray:
    """Per-frequency divisors of Llama 3.1's rope scaling (Meta's formula): llama.cpp reads them from a
    `rope_freqs` tensor, as it has no config keys for them."""
    base = float(params.get("rope_theta", 10000.0))
    factor = float(params.get("factor", 8.0))
    low, high = float(params.get("low_freq_factor", 1.0)), float(params.get("high_freq_factor", 4.0))
    old_ctx = float(params.get("original_max_position_embeddings", 8192))
    out = []
    for i in range(0, dim, 2):
        wavelen = 2 * math.pi * base ** (i / dim)
        if wavelen < old_ctx / high:
            out.append(1.0)
        elif wavelen > old_ctx / low:
            out.append(factor)
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)
