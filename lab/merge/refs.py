"""Model references in a merge: Hub ids, local folders, and base+adapter (mergekit's `model+lora`).

facts() reads config files only (preflight); resolve_for_merge() fetches weights through lab.models.resolve,
so every download is safetensors-only and the bundled model works offline.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lab.access import Caller
from lab.artifacts import _card_license, read_manifest
from lab.errors import LabError
from lab.models import bundled
from lab.models.info import estimate_params, human_params, info_from_folder, read_config, tensor_sizes
from lab.models.ref import named_base, parse
from lab.models.resolve import config_folder, resolve
from lab.models.usable import model_for
from lab.repo_id import split_revision
from lab.settings import bundled_folder, is_bundled, is_offline

DTYPE_BYTES = {"bf16": 2, "bfloat16": 2, "f16": 2, "float16": 2, "f32": 4, "float32": 4, "f64": 8, "float64": 8}
_LAYER = "model.layers."


def split_ref(ref: str, field_name: str = "model") -> tuple[str, str | None]:
    """'base+adapter' -> (base, adapter folder); a plain ref -> (ref, None). Parsed and checked by lab.models.ref
    (the one grammar, and on a Space the one rule on local paths)."""
    parsed = parse(ref, field_name, expand_adapter=False)
    return parsed.base, (str(parsed.adapter) if parsed.adapter else None)


def _tokenizer_refs(value, key: str = "") -> list[str]:
    """Model references inside mergekit's advanced `tokenizer:` config (its source, and token embeddings' models)."""
    if isinstance(value, dict):
        return [r for k, v in value.items() for r in _tokenizer_refs(v, str(k))]
    if isinstance(value, list):
        return [r for v in value for r in _tokenizer_refs(v, key)]
    if key in ("source", "model") and isinstance(value, str) and value not in ("union", "base"):
        return [value]
    return []


def check_chat_template(text: str | None) -> None:
    """mergekit reads a short template name as a file next to its own templates: a name with a path in it would
    read a .jinja file anywhere on the server."""
    if text and len(text) < 256 and "{" not in text and ("/" in text or "\\" in text or ".." in text):
        raise LabError(f"chat_template {text[:60]!r} is neither a template name nor a Jinja template.",
                       "Use auto, a built-in name (chatml, llama3, alpaca, …) or paste the Jinja template.",
                       "chat_template")


def check_refs(caller: Caller, recipe) -> None:
    """Every model a merge names (base, inputs, tokenizer source, the advanced tokenizer's models) checked for the
    caller before anything is read or fetched: their own or shared artifacts, Hub models they may read."""
    fields = {ref: f for f, ref in reversed(recipe.sources())}
    if recipe.base_model:
        fields.setdefault(recipe.base_model, "base_model")
    refs = list(recipe.refs()) + _tokenizer_refs(getattr(recipe, "tokenizer", None) or {})
    for ref in dict.fromkeys(refs):
        model_for(caller, ref, fields.get(ref, "model"), expand_adapter=False)
    check_chat_template(getattr(recipe, "chat_template", None))


@dataclass
class Facts:
    ref: str
    model: str
    adapter: str | None
    folder: Path
    config: dict
    info: dict
    weights_local: bool  # True: no weight download needed
    safetensors: bool | None  # None: unknown (offline and not cached)
    license: str
    chat_template: str | None
    weight_bytes: int
    non_layer_params: int
    layer_params: list[int] = field(default_factory=list)
    adapter_base: str | None = None

    @property
    def text_config(self) -> dict:
        return self.config.get("text_config", self.config)

    def get(self, key: str, default=None):
        return self.text_config.get(key, default)

    @property
    def layers(self) -> int:
        return int(self.get("num_hidden_layers") or 0)

    @property
    def params(self) -> int:
        return self.non_layer_params + sum(self.layer_params)

    @property
    def dtype_bytes(self) -> int:
        return DTYPE_BYTES.get(str(self.info.get("dtype", "")).lower(), 2)

    def row(self) -> dict:
        return {"model": self.ref, "architecture": self.info.get("architecture"), "layers": self.layers,
                "hidden": self.get("hidden_size"), "heads": self.get("num_attention_heads"),
                "kv heads": self.get("num_key_value_heads"), "vocab": self.get("vocab_size"),
                "params": human_params(self.params), "dtype": self.info.get("dtype"), "license": self.license or "?",
                "chat template": "yes" if self.chat_template else "no",
                "safetensors": {True: "yes", False: "NO", None: "?"}[self.safetensors],
                "weights": "local" if self.weights_local else "download"}


def _local_weights(model: str) -> Path | None:
    """A folder that already holds this model's safetensors (local, bundled or in the HF cache)."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    if is_bundled(model) and bundled.is_converted():
        return bundled_folder()
    try:
        from huggingface_hub import snapshot_download  # heavy: huggingface_hub

        repo_id, revision = split_revision(model)  # org/name@REV: that revision's snapshot only
        snap = Path(snapshot_download(repo_id, revision=revision, allow_patterns=["config.json", "*.safetensors"],
                                      local_files_only=True))
        return snap if any(snap.glob("*.safetensors")) else None
    except Exception:
        return None


def _hub_safetensors(model: str, token: str | None) -> bool | None:
    if is_offline():
        return None
    from huggingface_hub import HfApi  # heavy: huggingface_hub

    try:
        repo_id, revision = split_revision(model)
        files = HfApi(token=token or False).list_repo_files(repo_id, revision=revision)
    except Exception:
        return None
    return any(f.endswith(".safetensors") for f in files)


def _license(folder: Path) -> str:
    return read_manifest(folder).get("license") or _card_license(folder)


def _chat_template(folder: Path) -> str | None:
    if (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text()
    tc = folder / "tokenizer_config.json"
    if tc.is_file():
        value = json.loads(tc.read_text()).get("chat_template")
        if isinstance(value, list):  # named templates
            value = next((t.get("template") for t in value if t.get("name") == "default"), None)
        return value or None
    return None


def _layer_split(folder: Path | None, cfg: dict) -> tuple[int, list[int]]:
    """(parameters outside the layers, parameters of each layer): exact from safetensors headers, else estimated."""
    if folder is not None:
        layers: dict[int, int] = {}
        other = 0
        for name, n, _ in tensor_sizes(folder):
            if _LAYER in name:
                idx = int(name.split(_LAYER, 1)[1].split(".", 1)[0])
                layers[idx] = layers.get(idx, 0) + n
            else:
                other += n
        if other or layers:
            return other, [layers.get(i, 0) for i in range(max(layers, default=-1) + 1)]
    n = int(cfg.get("num_hidden_layers") or 0)
    non_layer = estimate_params({**cfg, "num_hidden_layers": 0})
    per = (estimate_params(cfg) - non_layer) // n if n else 0
    return non_layer, [per] * n


def _adapter_base(adapter: str, field_name: str) -> str:
    folder = Path(adapter).expanduser()
    if not (folder / "adapter_config.json").is_file():
        raise LabError(f"The adapter {adapter!r} is not a local PEFT folder (no adapter_config.json).",
                       "Give the folder of a LoRA adapter, e.g. one the Train tab saved.", field_name)
    if not (folder / "adapter_model.safetensors").is_file():
        raise LabError(f"The adapter {adapter!r} has no adapter_model.safetensors.",
                       "Save the adapter with safetensors (PEFT's default).", field_name)
    return named_base(json.loads((folder / "adapter_config.json").read_text()))


def facts(ref: str, token: str | None = None, field_name: str = "model") -> Facts:
    """What preflight needs about one reference, from config files only (no weights are downloaded)."""
    model, adapter = split_ref(ref, field_name)
    adapter_base = _adapter_base(adapter, field_name) if adapter else None
    try:
        folder = config_folder(model, token=token)
    except LabError as exc:
        raise LabError(exc.what, exc.fix, field_name) from None
    cfg = read_config(folder)
    info = info_from_folder(folder)
    local = _local_weights(model)
    safetensors = any(local.glob("*.safetensors")) if local is not None else _hub_safetensors(model, token)
    non_layer, per_layer = _layer_split(local, cfg.get("text_config", cfg))
    bytes_each = DTYPE_BYTES.get(str(info.get("dtype", "")).lower(), 2)
    if local is not None and safetensors:
        size = sum(p.stat().st_size for p in local.glob("*.safetensors"))
    else:
        size = (non_layer + sum(per_layer)) * bytes_each
    return Facts(ref=ref, model=model, adapter=adapter, folder=folder, config=cfg, info=info,
                 weights_local=bool(local is not None and safetensors), safetensors=safetensors,
                 license=_license(folder),
                 chat_template=_chat_template(folder), weight_bytes=size, non_layer_params=non_layer,
                 layer_params=per_layer, adapter_base=adapter_base)


def resolve_for_merge(ref: str, token: str | None = None, log=print) -> str:
    """A reference mergekit can open without the network: local folder(s), `base+adapter` kept."""
    model, adapter = split_ref(ref)
    path = str(resolve(model, token=token, log=log))
    if adapter:
        _adapter_base(adapter, "model")
        path += "+" + str(Path(adapter).expanduser().resolve())
    return path
