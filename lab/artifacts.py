"""Artifact folders and their lineage.

Every artifact (dataset, adapter, model, merge, votes) is a folder holding its outputs, the recipe
that made it (recipe.yaml), a manifest (lab.json) and a card (README.md). The manifest names the
parents; a later stage reads its parents' manifests (or Hub cards) to extend the lineage.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import yaml

from lab.cards import shown_ref, write_card
from lab.errors import LabError
from lab.repo_id import split_revision
from lab.settings import DEFAULT_MODEL, bundled_folder, get_settings, is_bundled
from lab.yamlio import recipe_text

KINDS = ("dataset", "adapter", "model", "merge", "votes", "gguf")
MANIFEST = "lab.json"
NONCOMMERCIAL = ("nc", "non-commercial", "noncommercial", "cc-by-nc", "research-only", "other", "unknown")


def parent_entry(ref: str, kind: str = "model") -> dict:
    """A parent as the manifest records it, with its own lineage when it is a local artifact."""
    path = Path(ref).expanduser()
    if path.is_dir() and (path / MANIFEST).is_file():
        m = read_manifest(path)
        return {"ref": m.get("hub_repo") or m.get("name") or str(path), "kind": m.get("kind", kind),
                "path": str(path.resolve()), "license": m.get("license", ""), "lineage": m.get("lineage", [])}
    if path.is_dir() and _is_bundled_folder(path):  # the converted bundled model is that Hub model
        ref, path = DEFAULT_MODEL, Path(DEFAULT_MODEL)
    return {"ref": ref, "kind": kind, "license": _card_license(path) if path.is_dir() else _known_license(ref),
            "lineage": []}


def _is_bundled_folder(path: Path) -> bool:
    return path.resolve() == bundled_folder().resolve()


def _known_license(ref: str) -> str:
    """A Hub model's license from a card already on disk (the bundled model, the HF cache); never the network."""
    if is_bundled(ref):
        return _card_license(bundled_folder()) or "apache-2.0"
    try:
        from huggingface_hub import try_to_load_from_cache  # heavy: huggingface_hub

        repo_id, revision = split_revision(ref)  # org/name@REV: that revision's card
        cached = try_to_load_from_cache(repo_id, "README.md", revision=revision)
    except Exception:  # not a repo id
        return ""
    return _card_license(Path(cached).parent) if isinstance(cached, str) else ""


def _card_license(folder: Path) -> str:
    card = folder / "README.md"
    if not card.is_file():
        return ""
    text = card.read_text(errors="replace")
    if text.startswith("---"):
        try:
            meta = yaml.safe_load(text.split("---", 2)[1]) or {}
            return str(meta.get("license", "") or "")
        except yaml.YAMLError:
            return ""
    return ""


def inherit_license(parents: list[dict]) -> tuple[str, list[str]]:
    """The license a child inherits, plus warnings for non-commercial or unknown parent licenses."""
    licenses = [p.get("license") or "unknown" for p in parents]
    warnings = [f"Parent {shown_ref(p['ref'])} has license '{lic}': check it permits your use."
                for p, lic in zip(parents, licenses) if any(t in lic.lower() for t in NONCOMMERCIAL)]
    known = [lic for lic in licenses if lic != "unknown"]
    if not known:
        return "unknown", warnings
    if len(set(known)) == 1 and len(known) == len(licenses):
        return known[0], warnings
    # mixed licenses: the most restrictive wins, and we say so
    restrictive = next((lic for lic in known if any(t in lic.lower() for t in NONCOMMERCIAL)), known[0])
    warnings.append(f"Parents have different licenses ({', '.join(sorted(set(licenses)))}); using '{restrictive}'.")
    return restrictive, warnings


def finalize(folder: Path, kind: str, parents: list[dict], recipe=None, metrics: dict | None = None,
             step: str = "", tags: list[str] | None = None, name: str = "", extra: dict | None = None,
             owner: str | None = None) -> dict:
    """Write recipe.yaml, lab.json and README.md into an artifact folder; returns the manifest. `owner` is the
    lab.access key of who made it (default: LAB_OWNER, which the job manager sets for the job's worker)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = recipe_text(recipe)
    if text:
        (folder / "recipe.yaml").write_text(text)
    license_, warnings = inherit_license(parents)
    lineage = []
    for p in parents:
        lineage.extend(p.get("lineage", []))
    lineage.append({"step": step or kind, "parents": [p["ref"] for p in parents],
                    "date": time.strftime("%Y-%m-%d %H:%M:%S")})
    manifest = {
        "kind": kind, "name": name or folder.name, "created": time.time(), "parents": parents,
        "lineage": lineage, "license": license_, "license_warnings": warnings, "tags": sorted(set(tags or [])),
        "metrics": metrics or {}, **(extra or {}),
        "owner": os.environ.get("LAB_OWNER", "") if owner is None else owner, "shared": False,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))

    write_card(folder)
    return manifest


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def list_artifacts(root: Path | None = None) -> list[dict]:
    """Finished artifacts in LAB_HOME, newest first."""
    root = root or get_settings().artifacts
    out = []
    for path in root.glob(f"*/{MANIFEST}") if root.is_dir() else []:
        m = read_manifest(path.parent)
        if m:
            out.append({**m, "path": str(path.parent)})
    return sorted(out, key=lambda m: m.get("created", 0), reverse=True)


def new_folder(kind: str, name: str = "", field: str = "name") -> Path:
    """A fresh artifact folder; an existing one is never reused silently (`field`: the form's name box, named in
    the refusal)."""
    stem = name or f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"
    if len(stem) > 100 or not stem.strip(". ") or any(c in stem for c in "/\\\0") or stem.startswith("."):
        raise LabError("An artifact's name is a plain folder name.",
                       "Use letters, digits, '-', '_' and '.' (no '/', and not starting with '.').", field)
    path = get_settings().artifacts / stem
    if path.exists():
        raise LabError(f"An artifact named {stem!r} already exists.", "Choose another name, or delete the old one.",
                       field)
    path.mkdir(parents=True)
    return path


def artifact_folder(path, manifest: bool = True) -> Path:
    """An artifact chosen by its folder name (or its path, for the owner's own tools): a folder (with its manifest)
    directly in LAB_HOME/artifacts, nothing else."""
    text = str(path or "").strip()
    root = get_settings().artifacts.resolve()
    try:  # OSError: also a name too long for the file system
        folder = (root / text if text and "/" not in text and "\\" not in text else Path(text).expanduser()).resolve()
        ok = bool(text) and folder.parent == root and folder.is_dir()
        ok = ok and (not manifest or (folder / MANIFEST).is_file())
    except (OSError, RuntimeError, ValueError):
        ok = False
    if not ok:
        raise LabError("That is not an artifact of this lab.", "Pick an artifact from the list.", "artifact")
    return folder


def owner_of(folder: Path) -> tuple[str, bool]:
    """(owner key, shared) of an artifact folder, from its manifest ("" is the lab's owner)."""
    m = read_manifest(folder)
    return str(m.get("owner") or ""), bool(m.get("shared"))


def set_shared(folder: Path, shared: bool) -> None:
    path = artifact_folder(folder) / MANIFEST
    m = json.loads(path.read_text())
    m["shared"] = bool(shared)
    path.write_text(json.dumps(m, indent=2, default=str))


def delete_artifact(folder: Path) -> None:
    shutil.rmtree(artifact_folder(folder, manifest=False))
