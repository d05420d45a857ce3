"""Which models a server answers for, and under which name.

Each reference is served under its own name: a Hub id as it is, a folder or artifact by its folder name, an
adapter (alone or BASE+ADAPTER) by the adapter's folder name. Adapters on one base share that base in memory (the
chat registry keys a loaded model by its base folder), and PEFT applies one adapter per forward pass.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lab.access import Caller
from lab.errors import LabError
from lab.models.ref import ModelRef, shown
from lab.models.usable import artifact_value, hub_models_offline, model_artifacts, model_for
from lab.settings import DEFAULT_MODEL


@dataclass(frozen=True)
class ServedModel:
    name: str  # what a request's `model` field says
    ref: ModelRef

    @property
    def text(self) -> str:
        """The reference the chat registry loads."""
        return self.ref.text

    @property
    def adapter(self) -> Path | None:
        return self.ref.adapter

    @property
    def base(self) -> str:
        return self.ref.base

    def rank(self) -> int:
        """The adapter's LoRA rank (0 for a full model)."""
        if self.adapter is None:
            return 0
        try:
            return int(json.loads((self.adapter / "adapter_config.json").read_text()).get("r") or 0)
        except (OSError, ValueError, TypeError, AttributeError):
            return 0


def served_name(ref: ModelRef) -> str:
    return shown(str(ref.adapter)) if ref.adapter else shown(ref.base)


def default_refs(caller: Caller) -> list[str]:
    """Without --model: the bundled model, then the caller's model, merge and adapter artifacts."""
    arts = [artifact_value(caller, a["path"]) for a in model_artifacts(caller)]
    hub = [m for m in hub_models_offline(caller) if m == DEFAULT_MODEL] or [DEFAULT_MODEL]
    return list(dict.fromkeys(hub + arts))


def plan(caller: Caller, refs: list[str]) -> list[ServedModel]:
    """Every reference checked for the caller before anything loads; two models may not share a name."""
    if not refs:
        raise LabError("No model to serve.", "Give at least one --model REF.", "model")
    out: dict[str, ServedModel] = {}
    for text in refs:
        ref = model_for(caller, text, "model")
        model = ServedModel(served_name(ref), ref)
        if model.name in out and out[model.name].ref != ref:
            raise LabError(f"Two models would both be served as {model.name!r}.",
                           "Serve one of them, or rename one folder.", "model")
        out[model.name] = model
    return list(out.values())
