"""Model facts from config.json, the tokenizer config and safetensors headers: never the weights."""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

from lab.errors import LabError
from lab.models.resolve import config_folder

_DTYPE_BYTES = {"F64": 8, "F32": 4, "BF16": 2, "F16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def read_config(folder: Path) -> dict:
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise LabError(f"{folder} has no config.json, so it is not a transformers model folder.",
                       "Pick the folder that holds config.json (and the *.safetensors weights).", "model")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise LabError(f"{path} is not valid JSON ({exc}).", "Fix or re-download config.json.", "model") from None


MAX_HEADER = 100_000_000  # bytes: the safetensors format's own limit on its JSON header


def safetensors_header(path: Path) -> dict:
    """The JSON header of a .safetensors file (names, dtypes, shapes), read without the tensors. A length field
    larger than the file (or the format's limit) is refused before anything that size is read."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(8)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
        if not 0 < n <= min(MAX_HEADER, path.stat().st_size - 8):
            raise _broken(path)
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _broken(path) from None
    if not isinstance(header, dict):
        raise _broken(path)
    return header


def _broken(path: Path) -> LabError:
    return LabError(f"{path.name} is not a valid safetensors file (its header is broken).",
                    "Re-download or re-save the model with save_pretrained.", "model")


def tensor_sizes(folder: Path):
    """(name, parameters, dtype) of every tensor in the folder's *.safetensors files, from their headers."""
    for path in sorted(Path(folder).glob("*.safetensors")):
        for name, meta in safetensors_header(path).items():
            if name != "__metadata__":
                yield name, math.prod(meta["shape"]), meta["dtype"]


def count_params(folder: Path) -> tuple[int, str]:
    """Parameters and dominant dtype, summed from safetensors headers. (0, "") if there are none."""
    total, by_dtype = 0, {}
    for _, n, dtype in tensor_sizes(folder):
        total += n
        by_dtype[dtype] = by_dtype.get(dtype, 0) + n
    dtype = max(by_dtype, key=by_dtype.get) if by_dtype else ""
    return total, dtype


def estimate_params(cfg: dict) -> int:
    """A decoder-only estimate from the config, for repos whose weights we have not fetched."""
    h, layers, vocab = cfg.get("hidden_size", 0), cfg.get("num_hidden_layers", 0), cfg.get("vocab_size", 0)
    inter = cfg.get("intermediate_size", 4 * h)
    heads = cfg.get("num_attention_heads", 1) or 1
    kv = cfg.get("num_key_value_heads", heads) or heads
    head_dim = cfg.get("head_dim", h // heads if heads else 0)
    attn = h * heads * head_dim * 2 + h * kv * head_dim * 2
    mlp = 3 * h * inter
    experts = cfg.get("num_local_experts", 1) or 1
    embed = vocab * h * (1 if cfg.get("tie_word_embeddings", False) else 2)
    return layers * (attn + mlp * experts + 2 * h) + embed + h


def has_chat_template(folder: Path) -> bool:
    folder = Path(folder)
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    tc = folder / "tokenizer_config.json"
    return tc.is_file() and bool(json.loads(tc.read_text()).get("chat_template"))


def info_from_folder(folder: Path) -> dict:
    folder = Path(folder)
    cfg = read_config(folder)
    params, dtype = count_params(folder)
    text_cfg = cfg.get("text_config", cfg)
    return {
        "architecture": (cfg.get("architectures") or ["?"])[0],
        "model_type": cfg.get("model_type", "?"),
        "layers": text_cfg.get("num_hidden_layers"),
        "hidden_size": text_cfg.get("hidden_size"),
        "heads": text_cfg.get("num_attention_heads"),
        "kv_heads": text_cfg.get("num_key_value_heads"),
        "vocab_size": text_cfg.get("vocab_size"),
        "max_positions": text_cfg.get("max_position_embeddings"),
        "params": params or estimate_params(text_cfg),
        "params_exact": bool(params),
        "dtype": dtype.lower() if dtype else str(cfg.get("dtype") or cfg.get("torch_dtype") or "?"),
        "chat_template": has_chat_template(folder),
        "safetensors": any(folder.glob("*.safetensors")),
        "is_adapter": (folder / "adapter_config.json").is_file(),
    }


def info(ref: str, token: str | None = None) -> dict:
    """Facts about a model: local folders are read in place; Hub repos fetch config files only."""
    return info_from_folder(config_folder(ref, token=token))


def human_params(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)
