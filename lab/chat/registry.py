"""Models in memory, shared read-only by every session, under a memory budget with LRU unloading.

One entry per base model (folder + precision). Adapters load on top of the base that is already in memory
(PEFT load_adapter), so one copy of the base weights serves the base and all its adapters. Which adapter is
active is module state, so generation on one base takes turns under the base's fair lock (see stream.py).
"""
from __future__ import annotations

import gc
import threading
import time
from pathlib import Path

from lab.chat import gpu_share
from lab.chat.loaded import BaseEntry, FairLock, Handle, check_adapter_fits
from lab.errors import LabError
from lab.hardware import get_hardware
from lab.models import resolve
from lab.models.info import count_params, estimate_params, read_config
from lab.models.ref import parse

HEADROOM = 1.2  # weights × 1.2 leaves room for the KV cache and activations of a few chats
CPU_SHARE = 0.5  # on CPU the models share RAM with the app, jobs and datasets
GPU_SHARE = 0.9


def default_budget_bytes() -> int:
    hw = get_hardware()
    share = GPU_SHARE if hw.cuda else CPU_SHARE
    return int(hw.memory_gb * share * 2**30)


def _gb(n: int) -> str:
    return f"{n / 2**30:.2f} GB"


class Registry:
    """Process-wide: every browser session and the CLI go through one registry."""

    def __init__(self, budget_bytes: int | None = None):
        self.budget = budget_bytes if budget_bytes is not None else default_budget_bytes()
        self._entries: dict[str, BaseEntry] = {}
        self._folders: dict[str, Path] = {}  # model ref -> resolved local folder
        self._lock = threading.Lock()  # guards _entries and user counts (short critical sections)
        self._load_lock = threading.Lock()  # one load at a time keeps the memory accounting exact
        self.notice = ""  # what the lab did to the loaded models (unloaded for a training job), for the Chat tab

    # -- public -------------------------------------------------------------------------------------
    def acquire(self, ref: str, four_bit: bool = False, token=None, log=lambda m: None) -> Handle:
        """A handle on `ref`, loading what is missing. Call handle.release() when done."""
        mref = parse(ref)
        hw = get_hardware()
        if four_bit and not (hw.cuda and hw.bnb_ok):
            raise LabError("4-bit loading needs a CUDA GPU with bitsandbytes working.",
                           "Turn off 4-bit, or run the lab on a GPU.", "load_in_4bit")
        folder = self._folders.get(mref.base)
        if folder is None or not folder.is_dir():  # resolving a Hub id scans the HF cache: do it once per ref
            folder = self._folders[mref.base] = _resolve(mref.base, token, log)
        key = f"{folder}|{'nf4' if four_bit else 'full'}"
        entry = self._take(key)  # fast path: a loaded model never waits behind another model's load
        if entry is None:
            with self._load_lock:
                entry = self._take(key) or self._load_base(folder, key, four_bit, log)
        name, tok = None, entry.tokenizer
        if mref.adapter:
            try:
                name, tok = entry.adapters.get(mref.adapter) or self._load_adapter(entry, mref.adapter, log)
            except Exception:
                self._give(entry)
                raise
        return Handle(ref=ref, label=mref.label, entry=entry, adapter=name, tokenizer=tok, release_fn=self._give)

    def loaded(self) -> list[dict]:
        with self._lock:
            return [e.describe() for e in sorted(self._entries.values(), key=lambda e: -e.last_used)]

    def used_bytes(self) -> int:
        with self._lock:
            return sum(e.bytes for e in self._entries.values())

    def entry_for(self, ref: str, four_bit: bool = False) -> BaseEntry | None:
        folder = _resolve(parse(ref).base, None, lambda m: None)
        with self._lock:
            return self._entries.get(f"{folder}|{'nf4' if four_bit else 'full'}")

    def clear(self) -> None:
        """Unload every idle model."""
        with self._load_lock:
            self._evict(need=None)

    def unload_idle(self) -> list[str]:
        """Unload every idle model; returns their names (a model generating now stays until it finishes)."""
        with self._lock:
            names = [e.label for e in self._entries.values() if e.users == 0]
        if names:
            self.clear()
        return names

    # -- internals ----------------------------------------------------------------------------------
    def _take(self, key: str) -> BaseEntry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.users += 1
                entry.last_used = time.monotonic()
            return entry

    def _give(self, entry: BaseEntry) -> None:
        with self._lock:
            entry.users = max(0, entry.users - 1)
            entry.last_used = time.monotonic()

    def _discard(self, entry: BaseEntry) -> None:
        with self._lock:
            if self._entries.get(entry.key) is entry:
                del self._entries[entry.key]

    def _load_adapter(self, entry: BaseEntry, adapter: Path, log) -> tuple[str, object]:
        with self._load_lock:
            try:
                found = entry.ensure_adapter(adapter, log)
            except LabError:
                raise
            except Exception as exc:  # the module may be half-modified: later callers get a fresh copy
                self._discard(entry)
                raise LabError(f"Loading adapter {adapter} failed ({type(exc).__name__}: {str(exc)[:300]}).",
                               "Check the adapter was trained on this base model.", "model") from None
            with self._lock:
                entry.bytes = entry.measure_bytes()
            return found

    def _load_base(self, folder: Path, key: str, four_bit: bool, log) -> BaseEntry:
        need = estimate_bytes(folder, four_bit)
        label = folder.name
        if need > self.budget:
            raise LabError(
                f"{label} needs about {_gb(need)} but the chat memory budget is {_gb(self.budget)}.",
                "Pick a smaller model" + ("" if four_bit else ", or turn on 4-bit loading on a GPU") + ".", "model")
        self._evict(need)
        gpu_share.check_fits(need, label)
        if self.used_bytes() + need > self.budget:
            busy = ", ".join(e.label for e in self._entries.values())
            raise LabError(
                f"{label} needs about {_gb(need)}; {_gb(self.budget - self.used_bytes())} is free and the loaded "
                f"models ({busy}) are in use.", "Wait for the other chats to finish, or pick fewer models.", "model")
        log(f"Loading {label}…")
        entry = BaseEntry.load(folder, key, four_bit)
        entry.users = 1
        entry.last_used = time.monotonic()
        entry.bytes = entry.measure_bytes()
        with self._lock:
            self._entries[key] = entry
        return entry

    def _evict(self, need: int | None) -> None:
        """Unload idle models, least recently used first, until `need` bytes fit (all idle ones if None)."""
        with self._lock:
            idle = sorted((e for e in self._entries.values() if e.users == 0), key=lambda e: e.last_used)
            freed = False
            for entry in idle:
                used = sum(e.bytes for e in self._entries.values())
                if need is not None and used + need <= self.budget:
                    break
                del self._entries[entry.key]
                freed = True
        if freed:
            _free_memory()


def estimate_bytes(folder: Path, four_bit: bool) -> int:
    """Memory a model will take, from safetensors headers (or the config), before loading anything."""
    try:
        params, _ = count_params(folder)
    except Exception as exc:  # a truncated or corrupt file: say so before trying to load it
        raise LabError(f"The weights of {folder.name} cannot be read ({type(exc).__name__}: {exc}).",
                       "Re-download or re-save the model with save_pretrained.", "model") from None
    if not params:
        cfg = read_config(folder)
        params = estimate_params(cfg.get("text_config", cfg))
    hw = get_hardware()
    per_param = 0.55 if four_bit else (4 if hw.precision == "fp32" else 2)
    return int(params * per_param * HEADROOM)


def _resolve(base: str, token, log) -> Path:
    folder = Path(resolve(base, token=token, log=log))
    if not any(folder.glob("*.safetensors")):
        raise LabError(f"{base} has no *.safetensors weights (the lab never loads pickle .bin files).",
                       "Pick a model folder saved with safetensors.", "model")
    return folder


def _free_memory() -> None:
    gc.collect()
    try:
        import torch  # heavy: torch, only to free its cache

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


_registry: Registry | None = None
_registry_lock = threading.Lock()


def get_registry() -> Registry:
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = Registry()
        return _registry


__all__ = ["Registry", "get_registry", "estimate_bytes", "check_adapter_fits", "FairLock", "Handle"]
