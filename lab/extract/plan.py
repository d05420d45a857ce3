"""Before any tensor is read: the two models' layers compared from their safetensors headers (the first name or
shape that differs is named), and the layers a LoRA can carry (2-D linear weights) picked."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lab.errors import LabError
from lab.models.info import safetensors_header

NOT_LINEAR = ("embed_tokens", "wte", "wpe", "lm_head", "embed_out", "norm", "ln_")  # not nn.Linear weights


@dataclass
class Plan:
    model_dir: Path
    base_dir: Path
    where: dict[str, Path]  # tensor name -> its file, for both models
    base_where: dict[str, Path]
    linear: list[str] = field(default_factory=list)  # 2-D linear weights: decomposed
    other: list[str] = field(default_factory=list)  # everything else: compared, reported when it differs


def tensors(folder: Path) -> dict[str, tuple[Path, dict]]:
    """name -> (file, header entry) for every tensor of a safetensors model folder."""
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise LabError(f"{Path(folder).name} has no *.safetensors weights (the lab never reads pickle .bin files).",
                       "Pick a model saved with safetensors.", "model")
    out = {}
    for path in files:
        for name, meta in safetensors_header(path).items():
            if name != "__metadata__":
                out[name] = (path, meta)
    return out


def is_linear(name: str, meta: dict) -> bool:
    return name.endswith(".weight") and len(meta["shape"]) == 2 and not any(k in name for k in NOT_LINEAR)


def plan(model_dir: Path, base_dir: Path) -> Plan:
    """The layers to decompose; refused, naming the first mismatch, when `base_dir` is not this model's base."""
    if (Path(model_dir) / "adapter_config.json").is_file():
        raise LabError("The model is an adapter already.", "Give a full model (a merge or a full fine-tune).", "model")
    mine, theirs = tensors(model_dir), tensors(base_dir)
    for name in sorted(set(mine) | set(theirs)):
        if name not in theirs:
            raise LabError(f"The base has no tensor {name}, which the model has: it is not this model's base.",
                           "Give the model this one was fine-tuned or merged from.", "base")
        if name not in mine:
            raise LabError(f"The model has no tensor {name}, which the base has: it is not this model's base.",
                           "Give the model this one was fine-tuned or merged from.", "base")
        a, b = mine[name][1]["shape"], theirs[name][1]["shape"]
        if a != b:
            raise LabError(f"{name} is {'×'.join(map(str, a))} in the model but {'×'.join(map(str, b))} in the "
                           "base: it is not this model's base.", "Give the model this one was fine-tuned or merged "
                           "from (same architecture and sizes).", "base")
    _same_type(model_dir, base_dir)
    out = Plan(Path(model_dir), Path(base_dir), {k: v[0] for k, v in mine.items()},
               {k: v[0] for k, v in theirs.items()})
    for name, (_, meta) in sorted(mine.items()):
        (out.linear if is_linear(name, meta) else out.other).append(name)
    if not out.linear:
        raise LabError("The model has no linear layers a LoRA adapter can carry.", "Pick a transformer language "
                       "model.", "model")
    return out


def _same_type(model_dir: Path, base_dir: Path) -> None:
    def kind(folder):
        try:
            return json.loads((Path(folder) / "config.json").read_text()).get("model_type")
        except (OSError, ValueError):
            return None

    a, b = kind(model_dir), kind(base_dir)
    if a and b and a != b:
        raise LabError(f"The model is a {a} and the base a {b}.", "Give the model this one was fine-tuned or merged "
                       "from.", "base")
