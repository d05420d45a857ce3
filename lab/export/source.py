"""What an export starts from: a model folder (merge, full fine-tune, Hub model, the bundled model) or an
adapter (a PEFT folder, or BASE+ADAPTER), which is merged into a 16-bit copy of its base in a temporary folder.

config() reads config files only, so the architecture is checked before any weight is downloaded.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lab.artifacts import parent_entry
from lab.errors import LabError
from lab.models import ref as model_ref
from lab.models.resolve import config_folder as folder_of, resolve
from lab.repo_id import split_revision


@dataclass
class Source:
    ref: str
    model: str  # the model (or the adapter's base) as given
    adapter: Path | None

    @property
    def name(self) -> str:
        if self.adapter is not None:
            return self.adapter.name
        repo, revision = split_revision(self.model)  # org/name@REV: name-REV, a plain folder and file name
        stem = Path(repo.rstrip("/")).name
        return f"{stem}-{revision.replace('/', '-')}" if revision else stem

    def parents(self) -> list[dict]:
        if self.adapter is None:
            return [parent_entry(self.model, "model")]
        entry = parent_entry(str(self.adapter), "adapter")
        return [entry] if entry.get("path") else [parent_entry(self.model, "model"), entry]


def parse(ref: str) -> Source:
    """REF, ADAPTER_FOLDER or BASE+ADAPTER_FOLDER, read as Chat reads them; an adapter must be safetensors."""
    if not (ref or "").strip():
        raise LabError("No model to export.", "Pick an artifact, or give a Hub id, a folder or BASE+ADAPTER.",
                       "source")
    try:
        parsed = model_ref.parse(ref)
    except LabError as exc:
        raise LabError(exc.what, exc.fix, "source") from None
    adapter = parsed.adapter
    if adapter is not None and not (adapter / "adapter_model.safetensors").is_file():
        raise LabError(f"The adapter {adapter.name} has no adapter_model.safetensors.",
                       "Save the adapter with safetensors (PEFT's default).", "source")
    return Source(parsed.text, parsed.base, adapter)


def config_folder(src: Source, token=None) -> Path:
    """Config and tokenizer files of the model (the base, for an adapter): no weights downloaded."""
    try:
        return folder_of(src.model, token=token)
    except LabError as exc:
        raise LabError(exc.what, exc.fix, "source") from None


def weights_folder(src: Source, token=None, log=print) -> Path:
    try:
        return resolve(src.model, token=token, log=log)
    except LabError as exc:
        raise LabError(exc.what, exc.fix, "source") from None


def merge_adapter(base: Path, adapter: Path, out: Path, log=print) -> Path:
    """The adapter merged into a 16-bit copy of its base, saved (safetensors) with the adapter's tokenizer."""
    import torch  # heavy: torch
    from peft import PeftModel  # heavy: peft
    from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy: transformers

    cfg = json.loads((base / "config.json").read_text())
    dtype = torch.float16 if str(cfg.get("dtype") or cfg.get("torch_dtype")) == "float16" else torch.bfloat16
    log(f"Merging the adapter {adapter.name} into a {dtype} copy of its base…")
    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype, use_safetensors=True)
    model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    model.save_pretrained(out, safe_serialization=True)
    has_tokenizer = (adapter / "tokenizer_config.json").is_file()
    AutoTokenizer.from_pretrained(adapter if has_tokenizer else base).save_pretrained(out)
    for name in ("generation_config.json",):
        if (base / name).is_file() and not (out / name).is_file():
            (out / name).write_bytes((base / name).read_bytes())
    return out
