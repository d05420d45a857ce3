"""A model loaded for chat: one base model in memory, its adapters, the fair lock that generation on it takes turns
under, and the handle a pane holds while it uses them."""
from __future__ import annotations

import hashlib
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lab.errors import LabError
from lab.hardware import get_hardware
from lab.models.info import safetensors_header

_UNKNOWN = object()  # adapter state must be re-applied in full (after an adapter was loaded)


class FairLock:
    """A ticket lock: turns are served in arrival order, so a pane that yields cannot take the turn straight back."""

    def __init__(self):
        self._cv = threading.Condition(threading.Lock())
        self._next = 0
        self._serving = 0

    def acquire(self) -> None:
        with self._cv:
            ticket = self._next
            self._next += 1
            while ticket != self._serving:
                self._cv.wait()

    def release(self) -> None:
        with self._cv:
            self._serving += 1
            self._cv.notify_all()

    def yield_turn(self) -> bool:
        """Let every waiter take one turn, then take ours back. Cheap when nobody waits."""
        if self._next - self._serving <= 1:  # a racy read: a waiter missed now is served at the next token
            return False
        self.release()
        self.acquire()
        return True


def check_adapter_fits(model, adapter: Path) -> None:
    """Compare the adapter's LoRA matrix shapes with the base's layers, before PEFT touches the model."""
    weights = adapter / "adapter_model.safetensors"
    if not weights.is_file():
        raise LabError(f"{adapter.name} has no adapter_model.safetensors (pickle .bin adapters are never loaded).",
                       "Save the adapter with safetensors (PEFT's default).", "model")
    for key, meta in safetensors_header(weights).items():
        for part, axis, attr in ((".lora_A.weight", 1, "in_features"), (".lora_B.weight", 0, "out_features")):
            if not key.endswith(part):
                continue
            path = key[: -len(part)].removeprefix("base_model.model.")
            try:
                module = model.get_submodule(path)
            except AttributeError:
                raise LabError(f"The adapter targets {path}, which this base model does not have.",
                               "Pick the base model the adapter was trained on.", "model") from None
            size = getattr(module, attr, None)
            if size is not None and size != meta["shape"][axis]:
                raise LabError(f"The adapter's {path} expects {meta['shape'][axis]} features; the base has {size}.",
                               "Pick the base model the adapter was trained on.", "model")


def _torch_dtype():
    import torch  # heavy: torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(get_hardware().precision, torch.float32)


class BaseEntry:
    """A base model shared read-only by every session; `active` is the adapter its modules apply now."""

    def __init__(self, key: str, folder: Path, model, tokenizer, four_bit: bool):
        self.key, self.folder, self.four_bit = key, folder, four_bit
        self.base = model  # the transformers module; PEFT injects adapter layers into it in place
        self.model = model  # the module to call generate() on: `base`, or the PeftModel wrapping it
        self.tokenizer = tokenizer
        self.lock = FairLock()
        self.adapters: dict[Path, tuple[str, object]] = {}
        self.active = None
        self.users, self.last_used, self.bytes = 0, 0.0, 0
        cfg = model.config.get_text_config()
        self.context = int(getattr(cfg, "max_position_embeddings", 0) or 2048)
        self.label = folder.name

    @classmethod
    def load(cls, folder: Path, key: str, four_bit: bool) -> "BaseEntry":
        from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy: transformers

        hw = get_hardware()
        kwargs: dict = {"dtype": _torch_dtype(), "use_safetensors": True, "trust_remote_code": False}
        if four_bit:  # Registry.acquire has checked for a GPU with working bitsandbytes
            from transformers import BitsAndBytesConfig  # heavy: transformers

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=kwargs["dtype"])
        if hw.cuda:
            kwargs["device_map"] = {"": 0}
        try:
            model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
            tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        except Exception as exc:
            raise LabError(f"Loading {folder.name} failed ({type(exc).__name__}: {str(exc)[:300]}).",
                           "Check that it is a causal language model saved with save_pretrained.", "model") from None
        model.eval()
        model.requires_grad_(False)
        return cls(key, folder, model, tok, four_bit)

    @property
    def is_peft(self) -> bool:
        return self.model is not self.base

    def measure_bytes(self) -> int:
        seen = {}
        for t in list(self.base.parameters()) + list(self.base.buffers()):
            seen[t.data_ptr()] = t.numel() * t.element_size()
        return sum(seen.values())

    def describe(self) -> dict:
        return {"model": self.label, "folder": str(self.folder), "gb": round(self.bytes / 2**30, 3),
                "adapters": [p.name for p in self.adapters], "in_use": self.users, "4bit": self.four_bit}

    def ensure_adapter(self, adapter: Path, log: Callable) -> tuple[str, object]:
        """Load an adapter onto this base (once); returns (adapter name, tokenizer with its chat template)."""
        if adapter in self.adapters:
            return self.adapters[adapter]
        check_adapter_fits(self.base, adapter)
        name = "a" + hashlib.sha1(str(adapter).encode()).hexdigest()[:12]
        tok = _adapter_tokenizer(adapter) or self.tokenizer
        log(f"Loading adapter {adapter.name} onto {self.label}…")
        self.lock.acquire()  # modules change: wait for the current token of any generation on this base
        try:
            if self.is_peft:
                self.model.load_adapter(str(adapter), adapter_name=name, is_trainable=False)
            else:
                from peft import PeftModel  # heavy: peft

                self.model = PeftModel.from_pretrained(self.base, str(adapter), adapter_name=name, is_trainable=False)
            self.model.eval()
            self.active = _UNKNOWN
        finally:
            self.lock.release()
        self.adapters[adapter] = (name, tok)
        return self.adapters[adapter]

    def activate(self, name: str | None) -> None:
        """Make the modules apply adapter `name` (None: the plain base). Call with the turn held."""
        if not self.is_peft or self.active == name:
            return
        if name is None:
            self.model.base_model.disable_adapter_layers()
        else:
            self.model.base_model.enable_adapter_layers()
            self.model.set_adapter(name, inference_mode=True)
        self.active = name


def _adapter_tokenizer(adapter: Path):
    """An adapter trained with its own chat template ships its tokenizer; use it for its pane."""
    if not (adapter / "tokenizer_config.json").is_file():
        return None
    from transformers import AutoTokenizer  # heavy: transformers

    return AutoTokenizer.from_pretrained(adapter, trust_remote_code=False)


@dataclass
class Handle:
    """One pane's use of a model: its entry, adapter and tokenizer. Release it when the reply is done."""

    ref: str
    label: str
    entry: BaseEntry
    adapter: str | None
    tokenizer: object
    release_fn: Callable = field(repr=False)
    _released: bool = field(default=False, repr=False)

    @contextmanager
    def turn(self):
        """Hold the base's turn with this pane's adapter state applied; yields the module to generate with."""
        self.entry.lock.acquire()
        try:
            self.entry.activate(self.adapter)
            yield self.entry.model
        finally:
            self.entry.lock.release()

    def yield_turn(self) -> None:
        """Between tokens: let other panes on this base take a step, then restore our adapter state."""
        if self.entry.lock.yield_turn():
            self.entry.activate(self.adapter)

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.release_fn(self.entry)
