"""An artifact as files to take away: a GGUF export as its .gguf files, anything else (an adapter, a model, a
dataset) as one zip of its folder.

The copies go to a fresh temporary folder (the app serves nothing from LAB_HOME) and are named after the artifact,
never after a place on the server. On a Space the small text files inside a zip (adapter_config.json, the card,
the recipe, lab.json) are scrubbed of server paths, so a base model reads as its Hub id. Which artifact a caller
may take is decided before this (lab.jobs.owners.artifact_for).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

from lab.artifacts import read_manifest
from lab.errors import LabError
from lab.shown import scrub

TEXT_SUFFIXES = {".json", ".md", ".yaml", ".yml", ".txt", ".jinja"}
SCRUB_MAX_BYTES = 4 << 20  # text files above this (a big tokenizer.json) hold no paths worth scanning for
STORED_SUFFIXES = {".safetensors", ".gguf", ".parquet", ".png", ".jpg", ".zip"}  # already dense: not deflated
KEEP_S = 3600  # earlier downloads' copies are removed after an hour


def downloads_root() -> Path:
    return Path(tempfile.gettempdir()) / "lab-downloads"


def _fresh_folder() -> Path:
    """A new folder for this download, after removing the copies of downloads older than KEEP_S."""
    root = downloads_root()
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        try:
            if time.time() - old.stat().st_mtime > KEEP_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:  # another request removed it first
            pass
    folder = root / uuid.uuid4().hex
    folder.mkdir()
    return folder


def _taken(path: Path) -> bool:
    """What a download leaves out: training checkpoints (optimizer state, many times the adapter) and dotfiles."""
    return not any(part.startswith("checkpoint-") or part.startswith(".") for part in path.parts)


def _link_or_copy(src: Path, dest: Path) -> Path:
    try:
        os.link(src, dest)  # a GGUF can be gigabytes: no second copy on the same disk
    except OSError:
        shutil.copyfile(src, dest)
    return dest


def zip_folder(folder: Path, dest: Path, on_space: bool) -> Path:
    """`folder` as `dest` (a zip whose entries sit under the folder's name)."""
    with zipfile.ZipFile(dest, "w") as z:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = path.relative_to(folder)
            if not _taken(rel):
                continue
            arc = f"{folder.name}/{rel.as_posix()}"
            small_text = path.suffix.lower() in TEXT_SUFFIXES and path.stat().st_size <= SCRUB_MAX_BYTES
            if on_space and small_text:
                z.writestr(arc, scrub(path.read_text(errors="replace")), zipfile.ZIP_DEFLATED)
            else:
                method = zipfile.ZIP_STORED if path.suffix.lower() in STORED_SUFFIXES else zipfile.ZIP_DEFLATED
                z.write(path, arc, method)
    return dest


def take_away(folder: Path, on_space: bool) -> list[Path]:
    """The files to download for an artifact folder the caller may use: its .gguf files for a GGUF export, else
    `<name>.zip` of the folder."""
    folder = Path(folder)
    dest = _fresh_folder()
    if read_manifest(folder).get("kind") == "gguf":
        files = sorted(folder.glob("*.gguf"))
        if not files:
            raise LabError(f"{folder.name} holds no GGUF file.", "Export the model again.", "artifact")
        return [_link_or_copy(f, dest / f.name) for f in files]
    return [zip_folder(folder, dest / f"{folder.name}.zip", on_space)]
