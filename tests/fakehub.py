"""A fake Hugging Face Hub on 127.0.0.1 (stdlib http.server in a thread), and the `fake_hub` pytest fixture.

    hub = FakeHub(tmp_dir).start()       # hub.url, hub.token (valid for user hub.user)
    hub.seed("acme/smol", folder=...)    # seed a repo from a folder, or files={"model.bin": b"..."}
    hub.seed_revision("acme/smol", "v1", files={...})  # a branch or tag with files of its own (the seed is main)
    hub.fail("lfs_put")                  # the next LFS upload fails midway (also: create, preupload, commit,
                                         # and the reads: tree, resolve)
    hub.files("tester/x"), hub.meta("tester/x"), hub.exists("tester/x"), hub.jobs, hub.requests
    hub.stop()                           # the Hub becomes unreachable

huggingface_hub reads HF_ENDPOINT (and HF_HUB_OFFLINE, the cache paths) at import, so `use_fake_hub()`
also patches those module constants; the lab itself always passes endpoint=lab.settings.hub_endpoint().
Run standalone with `python -m tests.fakehub --root DIR [--port N]` (prints the URL).
"""
from __future__ import annotations

import argparse
import shutil
import socket
import sys
import threading
import time
import uuid
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.fakehub_http import Handler
from tests.fakehub_store import Store

TOKEN = "fake-hub-test-token"  # not a real token, and not shaped like one
USER = "tester"


class FakeHub:
    def __init__(self, root: Path, port: int = 0, page_size: int = 5):
        self.root = Path(root)
        self.tokens = {TOKEN: USER}
        self.token, self.user = TOKEN, USER
        self.orgs: dict[str, list[str]] = {}  # user -> the orgs they belong to
        self.auth_log: list[tuple[str, str, str]] = []  # (method, path, bearer token) of every request with one
        self.page_size = page_size
        self.requests: list[tuple[str, str]] = []
        self.failures: dict[str, int] = {}
        self.jobs: dict[str, dict] = {}
        self.oauth_codes: dict[str, str] = {}  # sign-in code -> user
        handler = type("BoundHandler", (Handler,), {"hub": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.store = Store(self.root)
        self._thread: threading.Thread | None = None
        self.connections: set = set()  # open keep-alive sockets, closed by stop()

    def start(self) -> "FakeHub":
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="fake-hub",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self.server.server_close()
            for conn in list(self.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._thread = None

    def add_user(self, name: str, orgs: tuple[str, ...] = (), token: str | None = None) -> str:
        """Another account (and its token), e.g. a visitor who signs in with `sign_in(url, user=name)`."""
        token = token or f"fake-token-{name}-{uuid.uuid4().hex[:8]}"
        self.tokens[token] = name
        self.orgs[name] = list(orgs)
        return token

    def tokens_seen(self) -> set[str]:
        return {t for _, _, t in self.auth_log}

    # ---- failure injection
    def fail(self, point: str, times: int = 1) -> None:
        """Make the next `times` requests at `point` (create, preupload, lfs_put, commit, tree, resolve) fail."""
        self.failures[point] = self.failures.get(point, 0) + times

    def maybe_fail(self, point: str) -> bool:
        with self.store.lock:
            if self.failures.get(point, 0) > 0:
                self.failures[point] -= 1
                return True
        return False

    # ---- repos
    def repo_url(self, repo_type: str, repo_id: str) -> str:
        prefix = {"dataset": "datasets/", "space": "spaces/"}.get(repo_type, "")
        return f"{self.url}/{prefix}{repo_id}"

    def seed(self, repo_id: str, folder: Path | None = None, files: dict[str, bytes] | None = None,
             repo_type: str = "model", private: bool = False, downloads: int = 0, likes: int = 0,
             trending: float = 0, tags: list[str] | None = None) -> str:
        """Create a repo holding a folder's files (hardlinked) and/or in-memory files."""
        self.store.create(repo_type, repo_id, private, downloads=downloads, likes=likes,
                          trendingScore=trending, tags=list(tags or []))
        if folder is not None:
            folder = Path(folder)
            for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
                self.store.add_file(repo_type, repo_id, str(path.relative_to(folder)), src=path)
        for name, data in (files or {}).items():
            self.store.add_file(repo_type, repo_id, name, data=data)
        return repo_id

    def seed_revision(self, repo_id: str, name: str, files: dict[str, bytes], repo_type: str = "model") -> str:
        """A branch or tag of a seeded repo with its own files (the repo's files stay main); its commit sha. Once a
        repo has one, a revision it lacks gets the Hub's RevisionNotFound."""
        return self.store.add_revision(repo_type, repo_id, name, files)

    def exists(self, repo_id: str, repo_type: str = "model") -> bool:
        return self.store.meta(repo_type, repo_id) is not None

    def meta(self, repo_id: str, repo_type: str = "model") -> dict | None:
        return self.store.meta(repo_type, repo_id)

    def files(self, repo_id: str, repo_type: str = "model") -> Path:
        """The folder holding the repo's current files (so tests can assert what was pushed)."""
        return self.store.files(repo_type, repo_id)

    # ---- jobs
    def run_job(self, namespace: str, spec: dict) -> dict:
        job_id = uuid.uuid4().hex[:24]
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        info = {"id": job_id, "createdAt": now, "owner": {"id": "u-" + namespace, "name": namespace, "type": "user"},
                "command": spec.get("command"), "arguments": spec.get("arguments", []),
                "environment": spec.get("environment", {}), "secrets": None, "flavor": spec.get("flavor"),
                "labels": spec.get("labels"), "status": {"stage": "RUNNING", "message": None}}
        if "spaceId" in spec:
            info["spaceId"] = spec["spaceId"]
        else:
            info["dockerImage"] = spec.get("dockerImage")
        # the full spec (secret values included) stays server-side, where tests can assert on it
        self.jobs[job_id] = {"spec": spec, "info": info, "logs": ["===== Job started ====="]}
        return info

    def finish_job(self, job_id: str, stage: str = "COMPLETED", logs: list[str] = (), message: str | None = None):
        job = self.jobs[job_id]
        job["logs"].extend(logs)
        job["info"]["status"] = {"stage": stage, "message": message}


def use_fake_hub(monkeypatch, url: str, hf_home: Path) -> None:
    """Point huggingface_hub (already imported or not) at `url`, online, with a private cache."""
    import huggingface_hub.constants as c
    from huggingface_hub.utils import _cache_manager

    from lab import settings

    hf_home = Path(hf_home)
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_HOME", str(hf_home))
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(c, "ENDPOINT", url)
    monkeypatch.setattr(c, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(c, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setattr(_cache_manager, "HF_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setattr(c, "HF_TOKEN_PATH", str(hf_home / "token"))
    monkeypatch.setattr(c, "HF_STORED_TOKENS_PATH", str(hf_home / "stored_tokens"))
    if "datasets.config" in sys.modules:  # datasets copies the endpoint and offline flag at its import
        dc = sys.modules["datasets.config"]
        monkeypatch.setattr(dc, "HF_ENDPOINT", url)
        monkeypatch.setattr(dc, "HUB_DATASETS_URL", url + "/datasets/{repo_id}/resolve/{revision}/{path}")
        monkeypatch.setattr(dc, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(dc, "HF_DATASETS_OFFLINE", False)
    settings.reset_caches()


@pytest.fixture
def fake_hub(tmp_path, monkeypatch, lab_home):
    """A running fake Hub; huggingface_hub and the lab point at it for this test."""
    hub = FakeHub(tmp_path / "fakehub").start()
    use_fake_hub(monkeypatch, hub.url, tmp_path / "hf")
    yield hub
    hub.stop()
    shutil.rmtree(hub.root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake Hub until interrupted.")
    parser.add_argument("--root", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    hub = FakeHub(Path(args.root), port=args.port)
    print(hub.url, flush=True)
    try:
        hub.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
