"""Artifacts to publish in Hub tests, and a way to prove a folder did not change."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np

from lab.artifacts import finalize, new_folder
from lab.settings import DEFAULT_MODEL

BASE = {"ref": DEFAULT_MODEL, "kind": "model", "license": "apache-2.0", "lineage": []}


def link_tree(src: Path, dst: Path) -> None:
    """Hardlink a model folder's files (no 260 MB copy); nothing in the tests writes to them."""
    dst.mkdir(parents=True, exist_ok=True)
    for path in src.iterdir():
        if path.is_file() and not path.name.startswith("."):
            try:
                os.link(path, dst / path.name)
            except OSError:
                shutil.copyfile(path, dst / path.name)


def model_artifact(bundled: Path, name: str = "smol-sft") -> Path:
    """A model artifact in LAB_HOME: the real bundled weights, a recipe and a manifest naming its parent."""
    folder = new_folder("model", name)
    link_tree(bundled, folder)
    (folder / "README.md").unlink(missing_ok=True)
    finalize(folder, "model", [BASE], recipe={"method": "sft", "epochs": 1}, metrics={"train_loss": 1.25},
             step="sft", tags=["sft"])
    return folder


def tiny_model_artifact(bundled: Path, name: str = "tiny", seed: int = 0) -> Path:
    """A small model artifact (the real config and tokenizer, a few KB of safetensors) for fast pushes."""
    from safetensors.numpy import save_file

    folder = new_folder("model", name)
    for f in ("config.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copyfile(bundled / f, folder / f)
    rng = np.random.default_rng(seed)
    save_file({"w": rng.standard_normal((64, 64)).astype(np.float32)}, str(folder / "model.safetensors"))
    finalize(folder, "model", [BASE], recipe={"method": "sft"}, step="sft")
    return folder


def dataset_artifact(rows: list[dict], name: str = "alpaca-clean") -> Path:
    import json

    folder = new_folder("dataset", name)
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    finalize(folder, "dataset", [{"ref": "tatsu-lab/alpaca", "kind": "dataset", "license": "cc-by-nc-4.0",
                                  "lineage": []}], recipe={"dedup": "minhash"}, metrics={"rows": len(rows)},
             step="filter")
    return folder


def snapshot(folder: Path) -> dict:
    """Every file's size, mtime and (for files under 1 MB) content hash."""
    out = {}
    for p in sorted(Path(folder).rglob("*")):
        if p.is_file():
            st = p.stat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if st.st_size < 1 << 20 else ""
            out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime_ns, digest)
    return out


def files_containing(root: Path, needle: bytes) -> list[Path]:
    """Files under root whose bytes contain needle (read in overlapping chunks)."""
    hits = []
    for p in Path(root).rglob("*"):
        if not p.is_file():
            continue
        with open(p, "rb") as f:
            tail = b""
            while chunk := f.read(8 << 20):
                if needle in tail + chunk:
                    hits.append(p)
                    break
                tail = chunk[-len(needle):]
    return hits
