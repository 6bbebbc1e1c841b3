"""Check that an image's pinned requirements resolve for its base, with pip's own resolver.

`pip install --dry-run --report` resolves the full requirement set (harness + framework pins and every
dependency they pull) for the base's interpreter and platform, not the host's: `--python-version`,
`--implementation cp`, `--only-binary=:all:` and one `--platform` per manylinux tag the base's glibc
accepts. It reads metadata only (PEP 658 metadata from the index, or the wheel itself from a
`--find-links` folder), so nothing is installed and no multi-GB wheel is downloaded where the index
serves metadata. The report gives every distribution pip would install, with the sha256 the index
published for it.

Index URLs can carry a lab's credentials: they go to pip through its environment (PIP_INDEX_URL,
PIP_EXTRA_INDEX_URL), never on its command line, and no URL in a result or error keeps them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence
from urllib.parse import unquote, urlsplit, urlunsplit

from ..errors import FetchError

ARCHES = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
# Network failures in pip's log: the index could not be asked at all (as opposed to "asked, and it has
# no such version"), so the image is unchecked rather than unresolvable.
_UNREACHABLE = re.compile(
    r"(Could not fetch URL (?P<url>\S+?):|NewConnectionError|Failed to establish a new connection|"
    r"Max retries exceeded|Name or service not known|Temporary failure in name resolution|"
    r"Network is unreachable|No route to host|ProxyError)", re.IGNORECASE)
_HOST = re.compile(r"host='([^']+)'|Could not fetch URL https?://([^/\s:]+)", re.IGNORECASE)


class ResolveError(FetchError):
    """An image's requirements do not resolve for its base (pip's resolver said no)."""


class IndexUnreachable(ResolveError):
    """An index the image needs could not be reached: the image is unchecked, not wrong."""

    def __init__(self, message: str, hosts: Sequence[str] = ()):
        super().__init__(message)
        self.hosts = tuple(hosts)


@dataclass(frozen=True)
class Target:
    """The interpreter and platform an image installs into (its base's)."""

    python: str  # "3.12"
    platform: str = "linux/amd64"
    glibc: str = "2.28"


@dataclass(frozen=True)
class Resolved:
    """One distribution pip would install."""

    name: str
    version: str
    sha256: Optional[str]
    url: str  # where it comes from, credentials removed
    filename: str

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"

    def as_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "sha256": self.sha256, "file": self.filename,
                "url": self.url}


def platform_tags(platform: str, glibc: str) -> list[str]:
    """Every platform tag a base with this glibc accepts, newest first (pip matches --platform exactly):
    manylinux_2_N down to manylinux_2_5, the legacy aliases (manylinux2014 = 2_17, manylinux2010 = 2_12,
    manylinux1 = 2_5) and plain linux_<arch> (PyTorch's own indexes use it for some builds)."""
    try:
        arch = ARCHES[platform]
    except KeyError:
        raise ResolveError(f"platform {platform!r} is not one of {', '.join(ARCHES)}") from None
    match = re.fullmatch(r"2\.(\d+)", glibc)
    if not match or int(match.group(1)) < 5:
        raise ResolveError(f"glibc {glibc!r} is not a version 2.N with N >= 5")
    minor = int(match.group(1))
    tags = [f"manylinux_2_{n}_{arch}" for n in range(minor, 4, -1)]
    aliases = [(17, "manylinux2014"), (12, "manylinux2010"), (5, "manylinux1")]
    tags += [f"{alias}_{arch}" for floor, alias in aliases if minor >= floor]
    return tags + [f"linux_{arch}"]


def redact(url: str) -> str:
    """The URL without user:password@ (a lab index's credentials)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _redact_text(text: str) -> str:
    return re.sub(r"(\w+://)[^/@\s]+@", r"\1", text)


def pip_command(requirements: Sequence[str], target: Target, report: Path, install_dir: Path,
                find_links: Iterable[str] = (), no_index: bool = False,
                pip: Sequence[str] = (sys.executable, "-m", "pip"), retries: Optional[int] = None,
                cert: Optional[str] = None, no_deps: bool = False) -> list[str]:
    """pip's argv: metadata-only resolution for ``target``. Index URLs are not in it (see ``resolve``)."""
    args = list(pip) + ["install", "--dry-run", "--ignore-installed", "--quiet", "--disable-pip-version-check",
                        "--no-input", "--report", str(report), "--target", str(install_dir),
                        "--only-binary=:all:", "--implementation", "cp", "--python-version", target.python]
    for tag in platform_tags(target.platform, target.glibc):
        args += ["--platform", tag]
    if no_index:
        args.append("--no-index")
    if no_deps:
        args.append("--no-deps")  # exactly these pins (a converter stage's install)
    if retries is not None:
        args += ["--retries", str(retries)]  # an unreachable index costs seconds, not minutes
    if cert:
        args += ["--cert", str(cert)]  # a lab proxy's CA bundle (a path, not a secret)
    for link in find_links:
        args += ["--find-links", str(link)]
    return args + ["--"] + list(requirements)


def _sha256_of(url: str) -> Optional[str]:
    """sha256 of a local file (a --find-links wheel) when the report carries no hash for it."""
    parts = urlsplit(url)
    if parts.scheme != "file":
        return None
    path = Path(unquote(parts.path))
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def parse_report(report: dict) -> list[Resolved]:
    """The distributions in a pip installation report (format version 1), sorted by name."""
    out = []
    for item in report.get("install", []):
        meta, info = item.get("metadata", {}), item.get("download_info", {})
        url = info.get("url", "")
        archive = info.get("archive_info", {}) or {}
        sha256 = (archive.get("hashes") or {}).get("sha256")
        if not sha256 and str(archive.get("hash", "")).startswith("sha256="):
            sha256 = archive["hash"].split("=", 1)[1]
        sha256 = sha256 or _sha256_of(url)
        filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        out.append(Resolved(name=meta.get("name", "?"), version=meta.get("version", "?"), sha256=sha256,
                            url=redact(url), filename=filename))
    return sorted(out, key=lambda r: r.name.lower())


def _last_line(text: str) -> str:
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.lstrip().startswith("WARNING: Location")]
    return lines[-1] if lines else ""


def unreachable_hosts(text: str, index_urls: Sequence[str] = ()) -> list[str]:
    """Hosts pip could not reach, from its log (empty when the failure was not a network one). pip's
    retry warnings name only the path they tried (e.g. /whl/cpu/torch/): it is matched against the
    index URLs that were passed."""
    if not _UNREACHABLE.search(text):
        return []
    hosts = []
    for match in _HOST.finditer(text):
        host = match.group(1) or match.group(2)
        if host and host not in hosts:
            hosts.append(host)
    for url in index_urls:
        parts = urlsplit(url)
        path = parts.path.rstrip("/")
        if parts.hostname and parts.hostname not in hosts and path and f"{path}/" in text:
            hosts.append(parts.hostname)
    if not hosts:
        hosts = [h for h in dict.fromkeys(urlsplit(u).hostname for u in index_urls) if h]
    return hosts or ["an index"]


def resolve(image: str, requirements: Sequence[str], target: Target, index_url: Optional[str] = None,
            extra_index_urls: Sequence[str] = (), find_links: Iterable[str] = (), no_index: bool = False,
            isolated: bool = False, pip: Sequence[str] = (sys.executable, "-m", "pip"),
            timeout: float = 900, env: Optional[dict] = None, retries: Optional[int] = None,
            cert: Optional[str] = None, no_deps: bool = False) -> list[Resolved]:
    """Resolve ``requirements`` for ``target`` with pip; the distributions pip would install.

    ``image`` names the image in errors. ``index_url`` replaces pip's index, ``extra_index_urls`` add to
    it; both reach pip through its environment only. Raises IndexUnreachable when an index could not be
    asked, ResolveError (one line: the image and pip's last line) for any other failure."""
    if not requirements:
        raise ResolveError(f"{image}: no requirements to resolve")
    run_env = dict(os.environ if env is None else env)
    if isolated:
        # None of this machine's pip settings (config files, PIP_* variables): only what is passed here.
        run_env = {k: v for k, v in run_env.items() if not k.startswith("PIP_")}
        run_env["PIP_CONFIG_FILE"] = os.devnull
    if index_url:
        run_env["PIP_INDEX_URL"] = index_url
    if extra_index_urls:
        run_env["PIP_EXTRA_INDEX_URL"] = " ".join(extra_index_urls)
    with tempfile.TemporaryDirectory(prefix="mlperf-docker-resolve-") as tmp:
        report = Path(tmp) / "report.json"
        args = pip_command(requirements, target, report, Path(tmp) / "target", find_links, no_index, pip, retries, cert,
                           no_deps)
        try:
            proc = subprocess.run(args, capture_output=True, text=True, env=run_env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ResolveError(f"{image}: pip's resolver did not finish within {timeout:.0f} s") from None
        except OSError as exc:
            raise ResolveError(f"{image}: cannot run pip ({exc.strerror or exc})") from None
        log = _redact_text((proc.stderr or "") + "\n" + (proc.stdout or ""))
        if proc.returncode != 0 or not report.exists():
            last = _last_line(log) or f"pip exited with {proc.returncode}"
            hosts = unreachable_hosts(log, [u for u in [index_url, *extra_index_urls] if u])
            if hosts:
                raise IndexUnreachable(f"{image}: unchecked, {', '.join(hosts)} not reachable ({last})", hosts)
            raise ResolveError(f"{image}: does not resolve for Python {target.python} {target.platform} "
                               f"glibc {target.glibc}: {last}")
        return parse_report(json.loads(report.read_text()))
