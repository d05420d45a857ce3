"""Write a safetensors model folder as one GGUF file with the `gguf` package, one tensor in memory at a time.

The plan (names, shapes, types, sizes) is made from the safetensors headers before anything is written, so an
unknown tensor stops the export before the first byte. Tensors then stream: read one, convert, write, drop.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import safe_open

from lab.errors import LabError
from lab.export.arch import (ALTERNATIVE, Arch, head_dim, interleave_rotary_rows, llama3_rope_factors, rope_params,
                             text_config)
from lab.export.vocab import write_vocab
from lab.models.info import safetensors_header

BASE_TYPES = ("f16", "bf16", "q8_0", "q4_0")
_SKIP = re.compile(r"rotary_emb\.inv_freq$")
_BLOCK = re.compile(r"^blk\.(\d+)\.")


@dataclass
class TensorPlan:
    source: str  # safetensors name ("" for a tensor the writer makes, e.g. rope_freqs)
    name: str  # GGUF name
    shape: tuple[int, ...]
    ggml: object  # gguf.GGMLQuantizationType
    file: Path | None = None

    @property
    def nbytes(self) -> int:
        from gguf import GGML_QUANT_SIZES  # heavy: gguf

        block, size = GGML_QUANT_SIZES[self.ggml]
        n = int(np.prod(self.shape)) if self.shape else 1
        return n // block * size


def ggml_types(kind: str):
    """(weight type, file type) for one of BASE_TYPES."""
    from gguf import GGMLQuantizationType as Q, LlamaFileType as F  # heavy: gguf

    return {"f16": (Q.F16, F.MOSTLY_F16), "bf16": (Q.BF16, F.MOSTLY_BF16), "q8_0": (Q.Q8_0, F.MOSTLY_Q8_0),
            "q4_0": (Q.Q4_0, F.MOSTLY_Q4_0)}[kind]


def _weight_type(kind: str, name: str, shape: tuple[int, ...], is_output: bool):
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType as Q  # heavy: gguf

    if len(shape) < 2 or name.endswith("_norm.weight") or name.endswith(".bias"):
        return Q.F32  # llama.cpp keeps norms and biases in f32
    wanted, _ = ggml_types(kind)
    if kind == "q4_0" and is_output:
        # the output projection is the most sensitive matrix; llama.cpp's quantizer keeps it at more bits too
        wanted = Q.Q8_0
    if shape[-1] % GGML_QUANT_SIZES[wanted][0]:
        return Q.F16  # rows that do not split into whole blocks
    return wanted


def _headers(folder: Path) -> dict[str, tuple[Path, dict]]:
    out = {}
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise LabError(f"{folder} has no *.safetensors weights.", "Export a model folder saved with safetensors.",
                       "source")
    for path in files:
        for name, meta in safetensors_header(path).items():
            if name != "__metadata__":
                out[name] = (path, meta)
    return out


def _order(plan: TensorPlan) -> tuple:
    m = _BLOCK.match(plan.name)
    if m:
        return (1, int(m.group(1)))
    return (0 if plan.name.startswith(("token_embd", "rope_freqs")) else 2, 0)


def plan_tensors(folder: Path, cfg: dict, arch: Arch, kind: str) -> list[TensorPlan]:
    import gguf  # heavy: gguf

    tcfg = text_config(cfg)
    arch_enum = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch.gguf_name)
    names = gguf.get_tensor_name_map(arch_enum, int(tcfg["num_hidden_layers"]))
    headers = _headers(folder)
    tied = bool(tcfg.get("tie_word_embeddings", cfg.get("tie_word_embeddings", False)))
    plans, unknown = [], []
    for src, (path, meta) in headers.items():
        if _SKIP.search(src) or (tied and src == "lm_head.weight"):
            continue
        name = names.get_name(src, try_suffixes=(".weight", ".bias"))
        if name is None:
            unknown.append(src)
            continue
        shape = tuple(meta["shape"])
        is_output = name == "output.weight" or (tied and name == "token_embd.weight")
        plans.append(TensorPlan(src, name, shape, _weight_type(kind, name, shape, is_output), path))
    if unknown:
        raise LabError(f"{len(unknown)} tensors have no GGUF name for {arch.gguf_name} (e.g. {unknown[0]}).",
                       ALTERNATIVE, "source")
    if rope_params(tcfg)["rope_type"] == "llama3":
        plans.append(TensorPlan("", "rope_freqs.weight", (head_dim(tcfg) // 2,), gguf.GGMLQuantizationType.F32))
    return sorted(plans, key=_order)


def write_metadata(writer, cfg: dict, arch: Arch, kind: str, name: str, license_: str) -> None:
    import gguf  # heavy: gguf

    t = text_config(cfg)
    rope = rope_params(t)
    writer.add_type("model")
    writer.add_name(name)
    if license_ and license_ != "unknown":
        writer.add_license(license_)
    writer.add_file_type(ggml_types(kind)[1])
    if kind.startswith("q"):
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_context_length(int(t.get("max_position_embeddings", 2048)))
    writer.add_embedding_length(int(t["hidden_size"]))
    writer.add_block_count(int(t["num_hidden_layers"]))
    writer.add_feed_forward_length(int(t["intermediate_size"]))
    writer.add_head_count(int(t["num_attention_heads"]))
    writer.add_head_count_kv(int(t.get("num_key_value_heads") or t["num_attention_heads"]))
    writer.add_rope_freq_base(float(rope["rope_theta"]))
    writer.add_layer_norm_rms_eps(float(t.get("rms_norm_eps", 1e-6)))
    writer.add_vocab_size(int(t["vocab_size"]))
    if arch.rope_dims:
        writer.add_rope_dimension_count(head_dim(t))
    if t.get("head_dim"):
        writer.add_key_length(int(t["head_dim"]))
        writer.add_value_length(int(t["head_dim"]))
    if rope["rope_type"] == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(rope["factor"]))


def _load(plan: TensorPlan, handles: dict) -> np.ndarray:
    if plan.file not in handles:
        handles[plan.file] = safe_open(str(plan.file), framework="pt")
    return handles[plan.file].get_tensor(plan.source).float().numpy()


def convert_tensor(plan: TensorPlan, data: np.ndarray, cfg: dict, arch: Arch) -> np.ndarray:
    from gguf import GGMLQuantizationType as Q, quants  # heavy: gguf

    t = text_config(cfg)
    if arch.interleave_qk and plan.source.endswith(("q_proj.weight", "q_proj.bias")):
        data = interleave_rotary_rows(data, int(t["num_attention_heads"]))
    elif arch.interleave_qk and plan.source.endswith(("k_proj.weight", "k_proj.bias")):
        data = interleave_rotary_rows(data, int(t.get("num_key_value_heads") or t["num_attention_heads"]))
    if plan.ggml == Q.F32:
        return np.ascontiguousarray(data, dtype=np.float32)
    if plan.ggml == Q.F16:
        return np.ascontiguousarray(data, dtype=np.float16)
    return quants.quantize(np.ascontiguousarray(data, dtype=np.float32), plan.ggml)


def write_gguf(folder: Path, out: Path, cfg: dict, arch: Arch, kind: str, vocab, name: str, license_: str = "",
               progress=None, cancelled=None) -> list[TensorPlan]:
    """Write `out`; progress(done, total, tensor name) after each tensor, cancelled() checked between them."""
    import gguf  # heavy: gguf

    plans = plan_tensors(folder, cfg, arch, kind)
    writer = gguf.GGUFWriter(path=None, arch=arch.gguf_name)
    write_metadata(writer, cfg, arch, kind, name, license_)
    write_vocab(writer, vocab)
    for p in plans:
        writer.add_tensor_info(p.name, p.shape, np.float32, p.nbytes, raw_dtype=p.ggml)
    handles: dict = {}
    try:
        writer.write_header_to_file(path=Path(out))
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for i, p in enumerate(plans):
            if cancelled is not None:
                cancelled()
            data = llama3_rope_factors(rope_params(text_config(cfg)), head_dim(text_config(cfg))) \
                if not p.source else _load(p, handles)
            writer.write_tensor_data(convert_tensor(p, data, cfg, arch))
            if progress is not None:
                progress(i + 1, len(plans), p.name)
    finally:
        writer.close()
        handles.clear()
    return plans


def summary(plans: list[TensorPlan]) -> dict:
    counts: dict[str, int] = {}
    for p in plans:
        counts[p.ggml.name] = counts.get(p.ggml.name, 0) + 1
    return {"tensors": len(plans), "tensor_types": counts, "params": int(sum(np.prod(p.shape) for p in plans))}


def source_config(folder: Path) -> dict:
    return json.loads((Path(folder) / "config.json").read_text())
