"""A fake Hugging Face Hub on loopback (unit and integration tests of `fetch` with a token).

Two http.server threads: the Hub (the API's revision listing with blobs=true, and resolve) answers only
requests carrying `Authorization: Bearer <token>` (401 otherwise, 403 for another token); LFS files are
resolved by a 302 to the second server, a CDN that refuses any request carrying an Authorization header
(as the real one would leak it). Both record every request's path and headers.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _server(handle) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            handle(self)

        def do_HEAD(self):
            handle(self)

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def _send(handler, status: int, body: bytes = b"", headers: dict | None = None) -> None:
    rng = handler.headers.get("Range")
    if status == 200 and rng and (m := re.match(r"bytes=(\d+)-$", rng)) and int(m[1]) <= len(body):
        start = int(m[1])
        headers = {**(headers or {}), "Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}
        status, body = 206, body[start:]
    handler.send_response(status)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


class FakeHub:
    """`files`: name -> bytes of the repo at COMMIT; names in `lfs` are LFS files (sha256, via the CDN).
    `corrupt`: names served with other bytes than listed;
    `refuse_resolve`: downloads answer 403; `moved`: names redirected on the Hub itself. Use as a context manager."""

    def __init__(self, repo: str, token: str, files: dict[str, bytes], lfs: set[str]):
        self.repo, self.token, self.files, self.lfs = repo, token, files, lfs
        self.corrupt: set[str] = set()
        self.refuse_resolve = False  # 403 on downloads (a licence not accepted: the listing still answers)
        self.moved: set[str] = set()  # names resolved by a relative 307 on the Hub itself (the token must follow)
        self.hub_requests: list[tuple[str, dict]] = []
        self.cdn_requests: list[tuple[str, dict]] = []
        self.hub = _server(self._hub)
        self.cdn = _server(self._cdn)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.hub.server_port}"

    def listing(self) -> dict:
        siblings = []
        for name, data in self.files.items():
            entry = {"rfilename": name, "size": len(data), "blobId": git_sha1(data)}
            if name in self.lfs:
                entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            siblings.append(entry)
        return {"id": self.repo, "sha": COMMIT, "siblings": siblings}

    def _body(self, name: str) -> bytes:
        data = self.files[name]
        return data[:-1] + bytes([data[-1] ^ 1]) if name in self.corrupt else data

    def _hub(self, h) -> None:
        self.hub_requests.append((h.path, dict(h.headers)))
        auth = h.headers.get("Authorization")
        if auth is None:
            return _send(h, 401, b'{"error": "Access to model is restricted."}')
        if auth != f"Bearer {self.token}":
            return _send(h, 403, b'{"error": "Invalid credentials."}')
        api = f"/api/models/{self.repo}/revision/"
        if h.path.startswith(api) and h.path.endswith("?blobs=true"):
            return _send(h, 200, json.dumps(self.listing()).encode(), {"Content-Type": "application/json"})
        prefix = f"/{self.repo}/resolve/{COMMIT}/"
        path, _, query = h.path.partition("?")
        name = path[len(prefix):] if path.startswith(prefix) else None
        if name not in self.files:
            return _send(h, 404)
        if name in self.moved and query != "moved=1":
            return _send(h, 307, b"", {"Location": f"{path}?moved=1"})
        if self.refuse_resolve:
            return _send(h, 403, b'{"error": "You must accept the licence to access this model."}')
        if name in self.lfs:
            cdn = f"http://127.0.0.1:{self.cdn.server_port}/blobs/{name}?signed=1"
            return _send(h, 302, b"", {"Location": cdn})
        return _send(h, 200, self._body(name))

    def _cdn(self, h) -> None:
        self.cdn_requests.append((h.path, dict(h.headers)))
        if "Authorization" in h.headers:
            return _send(h, 400, b"an Authorization header reached the CDN")
        name = h.path.removeprefix("/blobs/").split("?")[0]
        if name not in self.files:
            return _send(h, 404)
        return _send(h, 200, self._body(name))

    def __enter__(self) -> "FakeHub":
        for server in (self.hub, self.cdn):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        for server in (self.hub, self.cdn):
            server.shutdown()
            server.server_close()
