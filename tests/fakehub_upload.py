"""The fake Hub's upload routes: preupload (regular vs LFS), LFS batch, the LFS PUT, and the NDJSON commit.

Failure injection (FakeHub.fail) hits here: `lfs_put` fails after the bytes arrived (a 507, which
huggingface_hub does not retry), `preupload` and `commit` fail before anything changes.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile

from tests.fakehub_jobs import HubError
from tests.fakehub_store import git_sha1, is_lfs, new_sha, repo_type as _type


class UploadRoutes:
    def r_preupload(self, kind, rid, rev):
        meta = self.repo(kind, rid, write=True)
        self.inject("preupload")
        files = self.json_body().get("files", [])
        base = self.hub.store.files(_type(kind), rid)
        out = []
        for f in files:
            lfs = is_lfs(f["path"], f["size"], base64.b64decode(f.get("sample", "")))
            oid = None
            if (base / f["path"]).is_file():
                old = meta["lfs"].get(f["path"])
                oid = old["oid"] if old else git_sha1((base / f["path"]).read_bytes())
            out.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                        "oid": oid})
        self.send_json({"files": out, "commit": meta["sha"]})

    def r_lfs_batch(self, rid, kind=None):
        self.repo(kind, rid, write=True)
        p = self.json_body()
        objects = []
        for o in p.get("objects", []):
            done = self.hub.store.lfs_path(o["oid"]).is_file()
            obj = {"oid": o["oid"], "size": o["size"], "authenticated": True}
            if not done:
                obj["actions"] = {"upload": {"href": f"{self.hub.url}/__lfs/{o['oid']}", "expires_in": 3600}}
            objects.append(obj)
        self.send_json({"transfer": "basic", "objects": objects, "hash_algo": "sha256"})

    def r_lfs_put(self, oid):
        h = hashlib.sha256()
        dst = self.hub.store.lfs_path(oid)
        with tempfile.NamedTemporaryFile(dir=dst.parent, delete=False) as tmp:
            for piece in self.body_stream():
                h.update(piece)
                tmp.write(piece)
        if self.hub.maybe_fail("lfs_put"):
            os.unlink(tmp.name)
            raise HubError(507, "Injected failure: the upload stopped midway (storage full).")
        if h.hexdigest() != oid:
            os.unlink(tmp.name)
            raise HubError(400, f"Uploaded bytes do not match oid {oid}")
        os.replace(tmp.name, dst)
        self.send_json({})

    def r_commit(self, kind, rid, rev):
        meta = self.repo(kind, rid, write=True)
        lines = [json.loads(line) for line in self.body().splitlines() if line.strip()]
        self.inject("commit")
        repo_type, store = _type(kind), self.hub.store
        for item in lines:  # validate everything before changing anything: a commit is atomic
            if item["key"] == "lfsFile" and not store.lfs_path(item["value"]["oid"]).is_file():
                raise HubError(422, f"LFS object {item['value']['oid']} was never uploaded")
        with store.lock:
            for item in lines:
                key, v = item["key"], item.get("value", {})
                if key == "file":
                    store.add_file(repo_type, rid, v["path"], data=base64.b64decode(v["content"]))
                elif key == "lfsFile":
                    store.add_file(repo_type, rid, v["path"], src=store.lfs_path(v["oid"]))
                elif key in ("deletedFile", "deletedFolder"):
                    store.remove_path(repo_type, rid, v["path"], key == "deletedFolder")
            meta = store.meta(repo_type, rid)
            meta["sha"] = new_sha()
            store.save_meta(repo_type, rid, meta)
        url = self.hub.repo_url(repo_type, rid)
        self.send_json({"success": True, "commitOid": meta["sha"], "commitUrl": f"{url}/commit/{meta['sha']}",
                        "pullRequestUrl": None})
