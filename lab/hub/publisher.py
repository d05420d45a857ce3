"""Publish an artifact folder (adapter, model, merge or dataset) to the Hub with a card that says where it came from.

- The repo is private unless asked otherwise; an existing repo is refused unless `overwrite`.
- The card is rendered with the final repo id and uploaded from memory, with the folder's files, in one commit.
- If anything fails after the repo was created here, that repo is deleted, so a retry starts clean.
- Nothing in the local folder changes unless the push succeeded (then lab.json and README.md record the repo).
"""
from __future__ import annotations

import fnmatch
import json
import time
from pathlib import Path

import yaml

from lab.artifacts import MANIFEST, inherit_license, read_manifest
from lab.auth import require_token
from lab.cards import public_recipe_text, public_value, render_card, write_card
from lab.errors import LabError
from lab.hub.client import api, full_repo_id, hub_errors, repo_url, translate, validate_repo_name
from lab.scores import check_gate
from lab.settings import get_settings

# Never published: job bookkeeping, hidden files, checkpoints (optimizer state), pickles (the lab ships safetensors).
IGNORE = ["job.log", ".*", "*/.*", "*.lock", "*.tmp", "checkpoint-*", "checkpoints", "__pycache__",
          "*.bin", "*.pt", "*.pth", "*.pkl", "*.pickle", "*.ckpt"]
DATA_EXT = (".parquet", ".jsonl", ".json", ".csv", ".tsv", ".arrow")
_BATCHES = 10  # progress granularity: files are uploaded in about this many groups


def check_folder(folder) -> Path:
    path = Path(str(folder or "")).expanduser()
    if not str(folder or "").strip():
        raise LabError("No artifact chosen.", "Pick an artifact (or give a folder) to publish.", "artifact")
    if not path.is_dir():
        raise LabError(f"{path} is not a folder.", "Pick an artifact from the list, or an existing folder.", "artifact")
    if not any(path.iterdir()):
        raise LabError(f"{path} is empty.", "Pick a folder that holds a model, an adapter or a dataset.", "artifact")
    return path.resolve()


def check_artifact(folder) -> Path:
    """A finished artifact inside LAB_HOME/artifacts (it has a manifest), nothing else."""
    path = check_folder(folder)
    root = get_settings().artifacts.resolve()
    if root not in path.parents or not (path / MANIFEST).is_file():
        raise LabError(f"{path} is not an artifact of this lab.", "Pick an artifact from the list.", "artifact")
    return path


def _ignored(rel: Path) -> bool:
    return any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in IGNORE)


def files_to_push(folder: Path) -> list[tuple[str, Path]]:
    """(path in repo, local path) for every file that is published; README.md and lab.json are rendered apart."""
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not _ignored(rel) and str(rel) not in ("README.md", MANIFEST):
            out.append((rel.as_posix(), path))
    return out


def _readme_meta(folder: Path) -> dict:
    text = (folder / "README.md").read_text(errors="replace") if (folder / "README.md").is_file() else ""
    try:
        return (yaml.safe_load(text.split("---", 2)[1]) or {}) if text.startswith("---") else {}
    except (yaml.YAMLError, IndexError):
        return {}


def _as_list(value) -> list[str]:
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else ([str(value)] if value else [])


def infer_manifest(folder: Path) -> dict:
    """A manifest for a folder the lab did not make: kind from its files, parents and license from its card."""
    names = {p.name for p in folder.iterdir()}
    if "adapter_config.json" in names:
        kind = "adapter"
    elif "config.json" in names:
        kind = "model"
    elif any(p.suffix.lower() in DATA_EXT for p in folder.rglob("*") if p.is_file()):
        kind = "dataset"
    else:
        raise LabError(f"{folder} holds no model (config.json), adapter (adapter_config.json) or data files.",
                       "Pick an artifact folder made by the lab, or a save_pretrained folder.", "artifact")
    meta = _readme_meta(folder)
    bases = _as_list(meta.get("base_model"))
    if not bases and kind == "adapter":
        cfg = json.loads((folder / "adapter_config.json").read_text())
        bases = _as_list(cfg.get("base_model_name_or_path"))
    parents = [{"ref": b, "kind": "model", "license": str(meta.get("license") or "")} for b in bases]
    parents += [{"ref": d, "kind": "dataset", "license": ""} for d in _as_list(meta.get("datasets"))]
    license_, warnings = (str(meta["license"]), []) if meta.get("license") else inherit_license(parents)
    tags = [t for t in _as_list(meta.get("tags")) if t != "lab"]
    return {"kind": kind, "name": folder.name, "parents": parents, "license": license_, "license_warnings": warnings,
            "tags": tags, "metrics": {}, "lineage": [{"step": "upload", "parents": [p["ref"] for p in parents],
                                                      "date": time.strftime("%Y-%m-%d %H:%M:%S")}]}


def _public_manifest(manifest: dict, repo_id: str) -> dict:
    """The manifest as published: local paths removed or named by their last part, the repo recorded."""
    clean = json.loads(json.dumps(manifest, default=str))
    for key in ("path", "owner", "shared"):  # who made it on this Space, and its sharing there, stay here
        clean.pop(key, None)
    for p in clean.get("parents", []):
        p.pop("path", None)
    clean = public_value(clean)
    clean["hub_repo"] = repo_id
    return clean


def _public_file(rel: str, path: Path):
    """What is uploaded for a file: recipe.yaml without the local paths of this machine, the rest as it is."""
    if rel == "recipe.yaml":
        return public_recipe_text(path.read_text()).encode()
    return str(path)


def _operations(folder: Path, manifest: dict, repo_id: str, has_manifest: bool) -> list:
    from huggingface_hub import CommitOperationAdd  # heavy: huggingface_hub

    card = render_card(folder, repo_id, manifest=manifest)
    ops = [CommitOperationAdd(path_in_repo=rel, path_or_fileobj=_public_file(rel, path))
           for rel, path in files_to_push(folder)]
    ops.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card.encode()))
    if has_manifest:
        data = json.dumps(_public_manifest(manifest, repo_id), indent=2).encode()
        ops.append(CommitOperationAdd(path_in_repo=MANIFEST, path_or_fileobj=data))
    return ops


def _batches(ops: list, total: int) -> list[list]:
    """Consecutive groups of about total/_BATCHES bytes each (one big file is a group of its own)."""
    groups, current, size = [], [], 0
    for op in sorted(ops, key=lambda o: o.upload_info.size):
        current.append(op)
        size += op.upload_info.size
        if size >= total / _BATCHES:
            groups.append(current)
            current, size = [], 0
    return groups + ([current] if current else [])


def _human(n: float) -> str:
    if n < 1000:
        return f"{n:.0f} B"
    for unit in ("KB", "MB"):
        n /= 1000
        if n < 1000:
            return f"{n:.1f} {unit}"
    return f"{n / 1000:.1f} GB"


def _upload(hf, repo_id: str, repo_type: str, ops: list, deletions: list, progress) -> None:
    total = sum(op.upload_info.size for op in ops) or 1
    done = 0
    for group in _batches(ops, total):
        hf.preupload_lfs_files(repo_id, additions=group, repo_type=repo_type)
        done += sum(op.upload_info.size for op in group)
        progress(0.1 + 0.85 * done / total, f"Uploaded {_human(done)} of {_human(total)}")
    progress(0.96, "Committing…")
    hf.create_commit(repo_id, operations=deletions + ops, repo_type=repo_type,
                     commit_message="Publish from the lab", commit_description="Card and lineage written by the lab.")


def _stale_files(hf, repo_id: str, repo_type: str, ops: list) -> list:
    """Overwrite replaces the repo's files: what is there and not pushed now is deleted in the same commit."""
    from huggingface_hub import CommitOperationDelete  # heavy: huggingface_hub

    keep = {op.path_in_repo for op in ops} | {".gitattributes"}
    return [CommitOperationDelete(path_in_repo=f) for f in hf.list_repo_files(repo_id, repo_type=repo_type)
            if f not in keep]


def publish(folder, repo: str, token: str | None, private: bool = True, overwrite: bool = False,
            progress=None, log=print, gate_task: str = "") -> str:
    """Push `folder` to the Hub repo `repo` (NAME or OWNER/NAME); returns the repo URL. With `gate_task`, only
    if the artifact's score on that task is at least its base's (else a LabError with both numbers)."""
    progress = progress or (lambda fraction, message: None)
    token = require_token(token, "Publishing to the Hub")
    validate_repo_name(repo)
    folder = check_folder(folder)
    if gate_task:
        log(check_gate(folder, gate_task))
    has_manifest = (folder / MANIFEST).is_file()
    manifest = read_manifest(folder) if has_manifest else infer_manifest(folder)
    repo_type = "dataset" if manifest.get("kind") in ("dataset", "votes") else "model"
    repo_id = full_repo_id(repo, token)
    ops = _operations(folder, manifest, repo_id, has_manifest)
    _push(api(token), repo_id, repo_type, ops, private, overwrite, progress, log)
    url = repo_url(repo_id, repo_type)
    if has_manifest:
        _record(folder, repo_id, url)
    progress(1.0, f"Published {url}")
    log(f"Published {folder.name} to {url}")
    return url


def _push(hf, repo_id: str, repo_type: str, ops: list, private: bool, overwrite: bool, progress, log) -> None:
    """Create the repo (or check overwrite), upload, commit; delete the repo made here if anything fails."""
    progress(0.02, f"Checking {repo_id}…")
    with hub_errors("Checking the repo", repo_id):
        exists = hf.repo_exists(repo_id, repo_type=repo_type)
    if exists and not overwrite:
        raise LabError(f"The repo {repo_id} already exists on the Hub; nothing was changed.",
                       "Pick another name, or tick 'overwrite' to replace its files.", "repo")
    created = False
    try:
        if exists:
            log(f"{repo_id} exists: overwriting its files (its visibility stays as it is).")
            deletions = _stale_files(hf, repo_id, repo_type, ops)
        else:
            hf.create_repo(repo_id, repo_type=repo_type, visibility="private" if private else "public")
            created, deletions = True, []
            log(f"Created {'private' if private else 'public'} {repo_type} repo {repo_id}.")
        progress(0.1, "Uploading…")
        _upload(hf, repo_id, repo_type, ops, deletions, progress)
    except BaseException as exc:  # a cancel (SIGTERM) cleans up too
        if created:
            _delete_quietly(hf, repo_id, repo_type, log)
        if isinstance(exc, Exception):
            raise translate(exc, f"Publishing to {repo_id}", repo_id) from None
        raise


def _delete_quietly(hf, repo_id: str, repo_type: str, log) -> None:
    try:
        hf.delete_repo(repo_id, repo_type=repo_type, missing_ok=True)
        log(f"The upload failed, so the new repo {repo_id} was deleted; a retry starts clean.")
    except Exception as exc:
        log(f"The upload failed and deleting the new repo {repo_id} failed too ({type(exc).__name__}): "
            "delete it on the Hub before retrying.")


def _record(folder: Path, repo_id: str, url: str) -> None:
    """After a successful push: the manifest and local card name the repo (children then cite it)."""
    manifest = read_manifest(folder)
    manifest.update(hub_repo=repo_id, hub_url=url, published=time.time())
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    write_card(folder, repo_id)
