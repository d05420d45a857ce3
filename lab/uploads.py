"""Uploads the lab keeps (LAB_HOME/uploads/HASH/NAME, one copy per content) and who uploaded each.

A recipe names an upload `upload:HASH/NAME`, never by its place on the server; only those who uploaded that file
(and the owner) may read it through that name.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from lab.errors import LabError
from lab.settings import get_settings

PREFIX = "upload:"
OWNERS_FILE = ".owners"


def root() -> Path:
    return get_settings().home / "uploads"


def store(path: Path, owner: str = "") -> Path:
    """Copy a file into the uploads (by content hash) and add `owner` (a lab.access key) to its uploaders."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    dest = root() / digest.hexdigest()[:16] / Path(path).name
    if not dest.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    if owner not in owners(dest):
        with open(dest.parent / OWNERS_FILE, "a") as f:
            f.write(owner + "\n")
    return dest


def ref(path: Path) -> str:
    """`upload:HASH/NAME` for a kept upload."""
    return PREFIX + Path(path).resolve().relative_to(root().resolve()).as_posix()


def path_of(text: str, field: str = "file") -> Path:
    """The kept file an `upload:HASH/NAME` names."""
    rel = text[len(PREFIX):] if text.startswith(PREFIX) else text
    parts = rel.split("/")
    path = (root() / rel).resolve()
    if len(parts) != 2 or any(p in ("", ".", "..") for p in parts) or not path.is_file() \
            or path.parent.parent != root().resolve():
        raise LabError("No such upload.", "Upload the file again.", field)
    return path


def owners(path: Path) -> set[str]:
    """The access keys of everyone who uploaded this file."""
    file = Path(path).parent / OWNERS_FILE
    return set(file.read_text().split("\n")) - {""} if file.is_file() else set()


def is_upload(path: Path) -> bool:
    real, base = Path(path).resolve(), root().resolve()
    return base in real.parents
