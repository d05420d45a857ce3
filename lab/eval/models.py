"""The models of an evaluation: what each reference points at, a hash of its content, and an lm-eval model on
top of the lab's own loading (lab.chat's registry), so adapters of one base share the loaded base.
"""
from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from lab import hardware
from lab.chat.registry import get_registry
from lab.hardware import get_hardware
from lab.models import resolve
from lab.models.ref import parse
from lab.settings import get_settings

# What decides a model's answers: weights, config, tokenizer and chat template.
CONTENT = ("*.safetensors", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
           "tokenizer.model", "special_tokens_map.json", "chat_template.jinja", "chat_template.json",
           "adapter_config.json")


@dataclass(frozen=True)
class ModelSpec:
    ref: str
    label: str
    base_folder: Path
    adapter: Path | None
    hash: str

    @property
    def model_args(self) -> str:
        """The same model for lm-eval's own CLI (`--model hf --model_args …`)."""
        args = f"pretrained={self.base_folder},dtype={_dtype_name()}"
        return args + (f",peft={self.adapter}" if self.adapter else "")


def _dtype_name() -> str:
    return {"bf16": "bfloat16", "fp16": "float16"}.get(precision(), "float32")


def _nvidia() -> bool:
    gpus = Path("/proc/driver/nvidia/gpus")
    return gpus.is_dir() and any(gpus.iterdir())


def precision() -> str:
    """The precision models load at here: fp32 on a CPU machine (known without importing torch, so a cached
    re-run stays fast), else the hardware probe's answer."""
    if not _nvidia():
        return "fp32"

    return get_hardware().precision


class FileHashes:
    """sha256 of files, remembered by (path, size, mtime) in LAB_HOME, so a model is hashed once."""

    def __init__(self):
        self.path = get_settings().home / "cache" / "eval" / "file_hashes.json"
        self.known = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.changed = False

    def of(self, path: Path) -> str:
        target = path.resolve()
        if path.is_symlink() and target.parent.name == "blobs":  # the HF cache names blobs by their hash
            return target.name
        st = target.stat()
        key = f"{target}|{st.st_size}|{st.st_mtime_ns}"
        if key not in self.known:
            h = hashlib.sha256()
            with open(target, "rb") as f:
                while chunk := f.read(8 << 20):
                    h.update(chunk)
            self.known[key] = h.hexdigest()
            self.changed = True
        return self.known[key]

    def save(self) -> None:
        if self.changed:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.known))
            os.replace(tmp, self.path)


def _folder_hash(folder: Path, hashes: FileHashes) -> str:
    h = hashlib.sha256()
    for path in sorted({p for pattern in CONTENT for p in folder.glob(pattern) if p.is_file()}):
        h.update(f"{path.name}:{hashes.of(path)}\n".encode())
    return h.hexdigest()


def spec(ref: str, token: str | None = None, log=lambda m: None, hashes: FileHashes | None = None) -> ModelSpec:
    """Resolve a reference (downloading a Hub model's safetensors if needed) and hash its content."""
    mref = parse(ref)
    folder = Path(resolve(mref.base, token=token, log=log))
    own = hashes or FileHashes()
    digest = _folder_hash(folder, own)
    if mref.adapter:
        digest = hashlib.sha256((digest + _folder_hash(mref.adapter, own)).encode()).hexdigest()
    if hashes is None:
        own.save()
    return ModelSpec(ref, mref.label, folder, mref.adapter, digest[:16])


def light_hardware() -> None:
    """On a CPU machine, describe the hardware without the full probe (it runs a bitsandbytes check in a child
    process, seconds of start-up an evaluation never needs: it loads no 4-bit model)."""
    if _nvidia() or hardware._cached is not None:  # probed already (a train job's last step): keep it
        return
    hardware.set_hardware(hardware.Hardware(bnb_error="not probed (evaluation loads no 4-bit model)",
                                            ram_gb=psutil.virtual_memory().total / 2**30,
                                            cpu_count=os.cpu_count() or 1))


@contextmanager
def loaded(ref: str, batch_size: int, token: str | None = None, log=lambda m: None):
    """(lm-eval model, tokenizer) for `ref`, loaded through the lab's registry: the base is loaded once and
    adapters on it are switched, never reloaded. The model is the base module with the adapter applied."""
    light_hardware()
    handle = get_registry().acquire(ref, token=token, log=log)
    try:
        with handle.turn():
            from lm_eval.models.huggingface import HFLM  # heavy: lm_eval

            yield HFLM(pretrained=handle.entry.base, tokenizer=handle.tokenizer, batch_size=batch_size), \
                handle.tokenizer
    finally:
        handle.release()


def base_order(refs: list[str]) -> list[str]:
    """Run order: models on one base one after another (the base stays loaded between them)."""
    first: dict[str, int] = {}
    for i, ref in enumerate(refs):
        first.setdefault(parse(ref).base, i)
    return sorted(refs, key=lambda r: (first[parse(r).base], refs.index(r)))
