"""Downloads for fetch: one URL into a `.partial` file, resumed with HTTP Range across dropped connections,
through urllib (http(s)_proxy and no_proxy apply; a CA bundle replaces the default trust store); and the
one-pass digests every fetched file is checked with.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from launcher.console import say
from launcher.errors import FetchError

CHUNK = 1 << 20
USER_AGENT = "mlperf-docker-fetch/0.1 (+https://github.com/mlperf-docker/mlperf-docker)"
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


# ---- verification -------------------------------------------------------------------------------

def digests(path: Path) -> tuple[str, str, int]:
    """(md5, sha256, size) of a file, in one pass."""
    md5, sha256, size = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            md5.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return md5.hexdigest(), sha256.hexdigest(), size


# ---- downloads ----------------------------------------------------------------------------------

class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects as urllib's, but a redirect to the same scheme, host and port keeps the unredirected
    headers (a token): only a redirect to another origin (a CDN) drops them."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            old, target = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(new.full_url)
            if (old.scheme, old.netloc) == (target.scheme, target.netloc):
                for key, value in req.unredirected_hdrs.items():
                    new.add_unredirected_header(key, value)
        return new


def opener(ca_bundle: Path | None = None) -> urllib.request.OpenerDirector:
    """urllib with the environment's proxies (build_opener's ProxyHandler) and the given CA bundle."""
    context = ssl.create_default_context(cafile=str(ca_bundle)) if ca_bundle else ssl.create_default_context()
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _SameOriginRedirects())


def unreachable(url: str, ca_bundle: Path | None = None, timeout: float = 10.0) -> str | None:
    """Why ``url`` cannot be reached at all (no DNS name, no route, TLS refused), or None when it
    answers (any HTTP status counts as an answer). One request, no retries."""
    try:
        with opener(ca_bundle).open(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        return _reason(exc)


class HTTPStatusError(FetchError):
    """A server's final answer was an HTTP error that retrying does not change (404, 401, 403)."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


class _Incomplete(Exception):
    """The connection ended before Content-Length bytes arrived."""


@dataclass
class Downloader:
    """One URL into a `.partial` file, resuming with Range across dropped connections."""

    ca_bundle: Path | None = None
    retries: int = 3
    timeout: float = 60.0
    backoff: float = 0.5
    cancel: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._opener = opener(self.ca_bundle)

    def download(self, url: str, partial: Path, name: str, expected_size: int | None = None,
                 on_total: Callable[[int | None, int], None] = lambda total, done: None,
                 on_bytes: Callable[[int], None] = lambda n: None, log: Callable[[str], None] = say,
                 private_headers: dict[str, str] | None = None) -> None:
        """``private_headers`` (a token) go to ``url``'s host only: urllib copies ordinary headers onto a
        redirect's request (to a CDN), never unredirected ones."""
        failures = 0
        while True:
            have = partial.stat().st_size if partial.exists() else 0
            if expected_size is not None and have > expected_size:
                partial.unlink()
                have = 0
            request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
            if have:
                request.add_header("Range", f"bytes={have}-")
            for key, value in (private_headers or {}).items():
                request.add_unredirected_header(key, value)
            try:
                self._once(request, partial, have, on_total, on_bytes, log, name)
                return
            except urllib.error.HTTPError as exc:
                exc.close()
                if exc.code == 416 and have:
                    # Nothing left to send from `have` on: the partial is complete, or stale; the digest decides.
                    if expected_size is None or have == expected_size:
                        return
                    partial.unlink()
                    reason = "the server refused to resume (HTTP 416)"
                elif exc.code in _RETRY_STATUS:
                    reason = f"HTTP {exc.code} {exc.reason}"
                else:
                    raise HTTPStatusError(f"{name}: {url} answered HTTP {exc.code} {exc.reason}", exc.code) from None
            except (urllib.error.URLError, OSError, http.client.HTTPException, _Incomplete) as exc:
                if self.cancel.is_set():
                    raise FetchError(f"{name}: cancelled") from None
                reason = _reason(exc)
            failures += 1
            kept = partial.stat().st_size if partial.exists() else 0
            if failures > self.retries:
                resume = f"; run the same fetch again to resume from byte {kept}" if kept else ""
                raise FetchError(f"{name}: downloading {url} failed after {failures} tries: {reason}{resume}")
            log(f"{name}: {reason}; retrying ({failures}/{self.retries}) from byte {kept}")
            time.sleep(min(self.backoff * 2 ** (failures - 1), 10.0))

    def _once(self, request, partial: Path, have: int, on_total, on_bytes, log, name: str) -> None:
        with self._opener.open(request, timeout=self.timeout) as response:
            status = getattr(response, "status", None) or 200
            length = response.headers.get("Content-Length")
            mode = "wb"
            if have and status == 206:
                match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
                if match and int(match[1]) == have:
                    mode = "ab"
                else:
                    log(f"{name}: the server resumed at the wrong offset; starting over")
            elif have:
                log(f"{name}: the server ignored the Range request (HTTP {status}); starting over")
            start = have if mode == "ab" else 0
            remaining = int(length) if length and length.isdigit() else None
            on_total(start + remaining if remaining is not None else None, start)
            received = 0
            with partial.open(mode) as f:
                while chunk := response.read(CHUNK):
                    if self.cancel.is_set():
                        raise FetchError(f"{name}: cancelled")
                    f.write(chunk)
                    received += len(chunk)
                    on_bytes(len(chunk))
            if remaining is not None and received < remaining:
                raise _Incomplete(f"the connection closed after {start + received} of {start + remaining} bytes")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        inner = exc.reason
        if isinstance(inner, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({inner.verify_message}; give the lab's CA with --ca-bundle)"
        return str(getattr(inner, "strerror", None) or inner)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message}; give the lab's CA with --ca-bundle)"
    if isinstance(exc, http.client.IncompleteRead):
        return f"the connection closed after {len(exc.partial)} bytes of the body"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
