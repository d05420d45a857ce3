"""The fake Hub's HTTP routes: what huggingface_hub 2.4 calls, answered the way the real Hub answers.

Routes: whoami, model/dataset search (filters, sort, `Link` pagination), repo info, tree, resolve (HEAD/GET with
X-Repo-Commit, ETag, X-Linked-Etag/Size, Range; info, tree and resolve at main or a seeded branch or tag), repo
create/delete/settings, validate-yaml, preupload, LFS batch + PUT, commit (NDJSON), the Jobs API, and sign-in
(OpenID, tests/fakehub_oauth.py).
"""
from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import yaml

from tests.fakehub_jobs import HubError, JobRoutes
from tests.fakehub_oauth import ROUTES as OAUTH_ROUTES
from tests.fakehub_oauth import OAuthRoutes
from tests.fakehub_store import git_sha1, repo_type as _type
from tests.fakehub_upload import UploadRoutes

_R = r"(?P<rid>[\w.\-]+/[\w.\-]+)"
_T = r"(?P<kind>models|datasets|spaces)"
ROUTES = [
    ("GET", r"/api/whoami-v2", "whoami"),
    ("GET", rf"/api/{_T}", "search"),
    ("POST", r"/api/repos/create", "create"),
    ("DELETE", r"/api/repos/delete", "delete"),
    ("POST", r"/api/validate-yaml", "validate_yaml"),
    ("GET", r"/api/jobs/hardware", "job_hardware"),
    ("POST", r"/api/jobs/(?P<ns>[\w.\-]+)", "job_run"),
    ("GET", r"/api/jobs/(?P<ns>[\w.\-]+)", "job_list"),
    ("GET", r"/api/jobs/(?P<ns>[\w.\-]+)/(?P<jid>\w+)", "job_inspect"),
    ("POST", r"/api/jobs/(?P<ns>[\w.\-]+)/(?P<jid>\w+)/cancel", "job_cancel"),
    ("GET", r"/api/jobs/(?P<ns>[\w.\-]+)/(?P<jid>\w+)/logs", "job_logs"),
    ("GET", rf"/api/{_T}/{_R}(?:/revision/(?P<rev>[^/]+))?", "info"),
    ("GET", rf"/api/{_T}/{_R}/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?", "tree"),
    ("PUT", rf"/api/{_T}/{_R}/settings", "settings"),
    ("POST", rf"/api/{_T}/{_R}/preupload/(?P<rev>[^/]+)", "preupload"),
    ("POST", rf"/api/{_T}/{_R}/commit/(?P<rev>[^/]+)", "commit"),
    ("POST", rf"/(?:(?P<kind>datasets|spaces)/)?{_R}\.git/info/lfs/objects/batch", "lfs_batch"),
    ("PUT", r"/__lfs/(?P<oid>[0-9a-f]{64})", "lfs_put"),
    ("GET", rf"/(?:(?P<kind>datasets|spaces)/)?{_R}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    ("HEAD", rf"/(?:(?P<kind>datasets|spaces)/)?{_R}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
]
ROUTES = [(m, re.compile(p + "$"), n) for m, p, n in ROUTES + OAUTH_ROUTES]
SORT_KEYS = {"downloads": "downloads", "likes": "likes", "trendingScore": "trendingScore",
             "createdAt": "createdAt", "lastModified": "lastModified"}


class Handler(UploadRoutes, JobRoutes, OAuthRoutes, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub = None  # set on a subclass by FakeHub

    def log_message(self, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        self.hub.connections.add(self.connection)

    def finish(self):
        self.hub.connections.discard(self.connection)
        super().finish()

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    # ---- plumbing
    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        self.query = parse_qs(split.query)
        path = unquote(split.path)
        self.hub.requests.append((method, path))
        self._body_read = False
        try:
            self.user = self._auth(path)
            for m, rx, name in ROUTES:
                match = rx.match(path)
                if m == method and match:
                    return getattr(self, "r_" + name)(**{k: v for k, v in match.groupdict().items()})
            raise HubError(404, f"No route for {method} {path}")
        except HubError as exc:
            if not self._body_read:
                self.body()  # drain, so keep-alive stays in sync
            headers = {**exc.headers, **({"X-Error-Code": exc.code} if exc.code else {})}
            if exc.status == 401 and "Invalid credentials" in exc.message:
                headers["X-Error-Message"] = exc.message
            self.send_json({"error": exc.message}, exc.status, headers)

    def _auth(self, path: str) -> str | None:
        header = self.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        if token:
            self.hub.auth_log.append((self.command, path, token))
        if not token or path.startswith("/__lfs/"):
            return None
        user = self.hub.tokens.get(token)
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return user

    def body(self) -> bytes:
        self._body_read = True
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            return b"".join(self._chunks())
        n = int(self.headers.get("content-length") or 0)
        return self.rfile.read(n) if n else b""

    def _chunks(self):
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    def body_stream(self):
        """The request body in pieces (large LFS PUTs are never held in memory)."""
        self._body_read = True
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            yield from self._chunks()
            return
        left = int(self.headers.get("content-length") or 0)
        while left > 0:
            piece = self.rfile.read(min(left, 4 * 1024 * 1024))
            if not piece:
                return
            left -= len(piece)
            yield piece

    def json_body(self):
        raw = self.body()
        return json.loads(raw) if raw else {}

    def send_json(self, obj, status: int = 200, headers: dict | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def inject(self, point: str) -> None:
        if self.hub.maybe_fail(point):
            raise HubError(507, f"Injected failure at {point}.")

    def need_user(self) -> str:
        if self.user is None:
            raise HubError(401, "You must be authenticated to do this.")
        return self.user

    def repo(self, kind: str | None, rid: str, write: bool = False) -> dict:
        meta = self.hub.store.meta(_type(kind), rid)
        if meta is None or (meta["private"] and meta["id"].split("/")[0] != self.user):
            raise HubError(404, "Repository not found", "RepoNotFound")
        if write and meta["id"].split("/")[0] != self.user:
            raise HubError(403, "You don't have the rights to write to this repo")
        return meta

    # ---- account and search
    def r_whoami(self):
        user = self.need_user()
        orgs = [{"type": "org", "name": o, "fullname": o.title()} for o in self.hub.orgs.get(user, [])]
        self.send_json({"type": "user", "id": "u-" + user, "name": user, "fullname": user.title(), "orgs": orgs,
                        "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": "write"}}})

    def r_search(self, kind):
        q = {k: v for k, v in self.query.items()}
        search = (q.get("search") or [""])[0].lower()
        author = (q.get("author") or [""])[0]
        tags = q.get("filter") or []
        rows = [self.hub.store.info(m) for m in self.hub.store.all_repos(_type(kind))
                if not m["private"] or m["id"].split("/")[0] == self.user]
        rows = [r for r in rows if search in r["id"].lower() and (not author or r["author"] == author)
                and all(t in r["tags"] or t == r.get("library_name") for t in tags)]
        key = SORT_KEYS.get((q.get("sort") or [""])[0])
        if key:
            rows.sort(key=lambda r: r.get(key) or 0, reverse=True)
        limit = int((q.get("limit") or ["1000"])[0])
        start = int((q.get("cursor") or ["0"])[0])
        size = min(limit, self.hub.page_size)
        page = rows[start:start + size]
        for r in page:
            r.pop("siblings", None)
        headers = {}
        if start + size < len(rows):
            nxt = {**{k: v for k, v in q.items() if k != "cursor"}, "cursor": [str(start + size)]}
            headers["Link"] = f'<{self.hub.url}/api/{kind}?{urlencode(nxt, doseq=True)}>; rel="next"'
        self.send_json(page, headers=headers)

    def at(self, kind, rid, meta, rev):  # a revision's tree (Store.at); the Hub's RevisionNotFound if it has none
        if (found := self.hub.store.at(_type(kind), rid, meta, rev)) is None:
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return found

    def r_info(self, kind, rid, rev=None):
        self.at(kind, rid, meta := self.repo(kind, rid), rev)
        self.send_json(self.hub.store.info(meta, rev))

    def r_tree(self, kind, rid, rev, path=None):
        self.inject("tree")
        meta = self.repo(kind, rid)
        self.at(kind, rid, meta, rev)
        self.send_json(self.hub.store.tree(_type(kind), rid, meta, path or "", rev))

    # ---- files
    def r_resolve(self, kind, rid, rev, path):
        self.inject("resolve")
        meta = self.repo(kind, rid)
        base, lfs_map, sha = self.at(kind, rid, meta, rev)
        file = base / path
        commit = {"X-Repo-Commit": sha}
        if not file.is_file():
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", commit)
        size = file.stat().st_size
        lfs = lfs_map.get(path)
        etag = lfs["oid"] if lfs else git_sha1(file.read_bytes())
        headers = {**commit, "ETag": f'"{etag}"', "Accept-Ranges": "bytes"}
        if lfs:
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(size)})
        start, end, status = 0, size - 1, 200
        rng = re.match(r"bytes=(\d*)-(\d*)", self.headers.get("range", ""))
        if rng and size:
            start = int(rng.group(1) or 0)
            end = min(int(rng.group(2)), size - 1) if rng.group(2) else size - 1
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(max(0, end - start + 1)))
        self.end_headers()
        if self.command == "HEAD":
            return
        with open(file, "rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0 and (piece := f.read(min(left, 4 * 1024 * 1024))):
                self.wfile.write(piece)
                left -= len(piece)

    # ---- repos
    def r_create(self):
        user = self.need_user()
        p = self.json_body()
        self.inject("create")
        owner = p.get("organization") or user
        if owner != user:
            raise HubError(403, f"You don't have the rights to create a repo under {owner}")
        repo_type = p.get("type") or "model"
        rid = f"{owner}/{p['name']}"
        url = self.hub.repo_url(repo_type, rid)
        with self.hub.store.lock:
            if self.hub.store.meta(repo_type, rid) is not None:
                raise HubError(409, f"You already created this {repo_type} repo", headers={})
            private = p.get("visibility") == "private" if "visibility" in p else bool(p.get("private"))
            self.hub.store.create(repo_type, rid, private)
        self.send_json({"url": url, "name": rid, "id": rid})

    def r_delete(self):
        user = self.need_user()
        p = self.json_body()
        rid = f"{p.get('organization') or user}/{p['name']}"
        repo_type = p.get("type") or "model"
        self.repo({"model": "models"}.get(repo_type, repo_type + "s"), rid, write=True)
        self.hub.store.delete(repo_type, rid)
        self.send_json({})

    def r_settings(self, kind, rid):
        meta = self.repo(kind, rid, write=True)
        p = self.json_body()
        if "visibility" in p or "private" in p:
            meta["private"] = p.get("visibility") == "private" if "visibility" in p else bool(p["private"])
        self.hub.store.save_meta(_type(kind), rid, meta)
        self.send_json({})

    def r_validate_yaml(self):
        p = self.json_body()
        text = p.get("content", "")
        if text.startswith("---"):
            try:
                yaml.safe_load(text.split("---", 2)[1])
            except yaml.YAMLError as exc:
                self.send_json({"errors": [{"message": str(exc)}], "warnings": []}, 400)
                return
        self.send_json({"errors": [], "warnings": []})
