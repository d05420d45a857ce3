"""The fake Hub's storage: repos on disk (files/ + meta.json), an LFS object store, and what the API returns.

Layout under root: repos/<type>/<owner>/<name>/{meta.json, files/..., revisions/<sha>/...}; lfs/<sha256>.
files/ is the main branch; a branch or tag seeded with add_revision has its own tree under revisions/.
Large files are hardlinked (copied across filesystems), so seeding a 260 MB model costs one sha256.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from pathlib import Path

import yaml

LFS_EXT = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".parquet", ".arrow", ".gguf", ".h5", ".msgpack",
           ".png", ".jpg", ".zip", ".gz", ".npy")
REGULAR_MAX = 5 * 1024 * 1024
GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"
_SHA_CACHE: dict[tuple, str] = {}  # (path, size, mtime) -> sha256, shared by every FakeHub in the process


def sha256_file(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(8 * 1024 * 1024):
                h.update(chunk)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_lfs(path: str, size: int, sample: bytes = b"") -> bool:
    return path.lower().endswith(LFS_EXT) or size > REGULAR_MAX or b"\0" in sample


def repo_type(kind: str | None) -> str:
    """'models' (a URL part) -> 'model'."""
    return {"models": "model", "datasets": "dataset", "spaces": "space"}.get(kind or "models", "model")


def new_sha() -> str:
    return hashlib.sha1(uuid.uuid4().bytes).hexdigest()


def link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _listing(base: Path) -> list[str]:
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())


def card_data(files: Path) -> dict:
    readme = files / "README.md"
    if not readme.is_file():
        return {}
    text = readme.read_text(errors="replace")
    if not text.startswith("---"):
        return {}
    try:
        return yaml.safe_load(text.split("---", 2)[1]) or {}
    except yaml.YAMLError:
        return {}


class Store:
    """Repos and LFS objects on disk; every mutation holds the lock."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.lock = threading.RLock()
        (self.root / "repos").mkdir(parents=True, exist_ok=True)
        (self.root / "lfs").mkdir(parents=True, exist_ok=True)

    # ---- layout
    def repo_root(self, repo_type: str, repo_id: str) -> Path:
        return self.root / "repos" / repo_type / repo_id

    def files(self, repo_type: str, repo_id: str) -> Path:
        return self.repo_root(repo_type, repo_id) / "files"

    def meta(self, repo_type: str, repo_id: str) -> dict | None:
        path = self.repo_root(repo_type, repo_id) / "meta.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def save_meta(self, repo_type: str, repo_id: str, meta: dict) -> None:
        meta["lastModified"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        (self.repo_root(repo_type, repo_id) / "meta.json").write_text(json.dumps(meta, indent=1))

    def all_repos(self, repo_type: str) -> list[dict]:
        base = self.root / "repos" / repo_type
        return [json.loads(p.read_text()) for p in sorted(base.glob("*/*/meta.json"))] if base.is_dir() else []

    def lfs_path(self, oid: str) -> Path:
        return self.root / "lfs" / oid

    # ---- repos
    def create(self, repo_type: str, repo_id: str, private: bool, **extra) -> dict:
        with self.lock:
            root = self.repo_root(repo_type, repo_id)
            (root / "files").mkdir(parents=True)
            (root / "files" / ".gitattributes").write_bytes(GITATTRIBUTES)
            now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            meta = {"id": repo_id, "type": repo_type, "private": bool(private), "sha": new_sha(), "lfs": {},
                    "downloads": 0, "likes": 0, "trendingScore": 0, "tags": [], "createdAt": now, **extra}
            self.save_meta(repo_type, repo_id, meta)
            return meta

    def delete(self, repo_type: str, repo_id: str) -> bool:
        with self.lock:
            root = self.repo_root(repo_type, repo_id)
            if not root.is_dir():
                return False
            shutil.rmtree(root)
            return True

    def add_file(self, repo_type: str, repo_id: str, path: str, src: Path | None = None, data: bytes = b"") -> None:
        """Put one file into a repo (seeding and commits), recording LFS metadata for large/binary files."""
        with self.lock:
            dst = self.files(repo_type, repo_id) / path
            meta = self.meta(repo_type, repo_id)
            if src is not None:
                sample = open(src, "rb").read(512)
                size = src.stat().st_size
                lfs = is_lfs(path, size, sample)
                link_or_copy(src, dst)
            else:
                size, lfs = len(data), is_lfs(path, len(data), data[:512])
                dst.parent.mkdir(parents=True, exist_ok=True)
                if dst.exists():
                    dst.unlink()  # never write through a hardlink into the LFS store
                dst.write_bytes(data)
            meta["lfs"].pop(path, None)
            if lfs:
                meta["lfs"][path] = {"oid": sha256_file(dst), "size": size}
            self.save_meta(repo_type, repo_id, meta)

    def remove_path(self, repo_type: str, repo_id: str, path: str, folder: bool) -> None:
        with self.lock:
            target = self.files(repo_type, repo_id) / path.rstrip("/")
            meta = self.meta(repo_type, repo_id)
            if folder and target.is_dir():
                shutil.rmtree(target)
            elif target.is_file():
                target.unlink()
            prefix = path.rstrip("/") + "/"
            for p in [p for p in meta["lfs"] if p == path or (folder and p.startswith(prefix))]:
                meta["lfs"].pop(p)
            self.save_meta(repo_type, repo_id, meta)

    def list_files(self, repo_type: str, repo_id: str) -> list[str]:
        return _listing(self.files(repo_type, repo_id))

    # ---- revisions
    def add_revision(self, repo_type: str, repo_id: str, name: str, files: dict[str, bytes]) -> str:
        """A branch or tag `name` holding exactly these files, at a commit of its own; returns the commit sha."""
        with self.lock:
            meta, sha = self.meta(repo_type, repo_id), new_sha()
            base, lfs = self.repo_root(repo_type, repo_id) / "revisions" / sha, {}
            for path, data in files.items():
                (base / path).parent.mkdir(parents=True, exist_ok=True)
                (base / path).write_bytes(data)
                if is_lfs(path, len(data), data[:512]):
                    lfs[path] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data)}
            meta.setdefault("revisions", {})[name] = {"sha": sha, "lfs": lfs}
            self.save_meta(repo_type, repo_id, meta)
            return sha

    def at(self, repo_type: str, repo_id: str, meta: dict, rev: str | None) -> tuple[Path, dict, str] | None:
        """(files folder, LFS entries, commit sha) of a revision: main (by name or sha), or a seeded branch or tag
        (by name or sha); None when the repo has no such revision. A repo without seeded revisions answers every
        revision with main."""
        revisions = meta.get("revisions") or {}
        if rev in (None, "main", meta["sha"]) or not revisions:
            return self.files(repo_type, repo_id), meta["lfs"], meta["sha"]
        for name, r in revisions.items():
            if rev in (name, r["sha"]):
                return self.repo_root(repo_type, repo_id) / "revisions" / r["sha"], r["lfs"], r["sha"]
        return None

    def entry(self, base: Path, path: str, lfs_map: dict) -> dict:
        """A tree entry (list_repo_tree format) of the file `path` in the tree at `base`."""
        file = base / path
        size = file.stat().st_size
        lfs = lfs_map.get(path)
        if lfs:
            return {"type": "file", "path": path, "size": size, "oid": lfs["oid"][:40],
                    "lfs": {"oid": lfs["oid"], "size": lfs["size"], "pointerSize": 134}}
        return {"type": "file", "path": path, "size": size, "oid": git_sha1(file.read_bytes())}

    def tree(self, repo_type: str, repo_id: str, meta: dict, under: str = "", rev: str | None = None) -> list[dict]:
        base, lfs_map, _ = self.at(repo_type, repo_id, meta, rev)
        out = []
        for p in sorted(base.rglob("*")):
            rel = str(p.relative_to(base))
            if under and not rel.startswith(under.rstrip("/") + "/"):
                continue
            if p.is_dir():
                out.append({"type": "directory", "path": rel, "oid": hashlib.sha1(rel.encode()).hexdigest()})
            else:
                out.append(self.entry(base, rel, lfs_map))
        return out

    # ---- what info endpoints return
    def info(self, meta: dict, rev: str | None = None) -> dict:
        repo_type, repo_id = meta["type"], meta["id"]
        files, _, sha = self.at(repo_type, repo_id, meta, rev)
        card = card_data(files)
        config = {}
        if (files / "config.json").is_file():
            try:
                raw = json.loads((files / "config.json").read_text())
                config = {k: raw[k] for k in ("architectures", "model_type") if k in raw}
            except json.JSONDecodeError:
                pass
        library = card.get("library_name") or ("peft" if (files / "adapter_config.json").is_file()
                                               else "transformers" if config else None)
        archs = config.get("architectures") or [""]
        pipeline = card.get("pipeline_tag") or ("text-generation" if archs[0].endswith("ForCausalLM") else None)
        tags = list(meta.get("tags", [])) + list(card.get("tags") or [])
        tags += [t for t in (library, config.get("model_type"), pipeline) if t]
        if card.get("license"):
            tags.append(f"license:{card['license']}")
        siblings = [{"rfilename": p, "size": (files / p).stat().st_size} for p in _listing(files)]
        out = {"id": repo_id, "_id": meta["sha"][:24], "author": repo_id.split("/")[0], "sha": sha,
               "private": meta["private"], "gated": False, "disabled": False, "downloads": meta["downloads"],
               "likes": meta["likes"], "trendingScore": meta["trendingScore"], "tags": list(dict.fromkeys(tags)),
               "createdAt": meta["createdAt"], "lastModified": meta["lastModified"], "cardData": card or None,
               "siblings": siblings}
        if repo_type == "model":
            out.update({"modelId": repo_id, "library_name": library, "pipeline_tag": pipeline,
                        "config": config or None})
        return out
