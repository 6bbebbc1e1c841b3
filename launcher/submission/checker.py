"""`mlperf-docker submission check`: the official MLPerf submission checker, at the
commit images.yaml pins (tools.submission_checker), run in a small tools image with no
network, its messages grouped per result.

- fetch: the source archive (URL + sha256) into <cache>/tools/, verified, unpacked once.
  Without a declared sha256 the first fetch records the archive's in images.lock.yaml and
  later fetches must match it (trust on first use; say so).
- image: FROM the cpu base (any image with python3), the checker's source and its one
  dependency (PyYAML's pure-Python package, copied from this host: nothing downloaded),
  built with --network none.
- run: the tree mounted read-only, --network none, as the caller's UID:GID.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from launcher.errors import EngineError, FetchError, UsageError


class CheckerSource(BaseModel):
    """images.yaml `tools.submission_checker`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^(https?|file)://")
    commit: str = Field(pattern=r"^[0-9a-f]{7,40}$")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    version: str = Field(default="v6.1", pattern=r"^v\d+\.\d+$")  # the checker's --version
    module: str = "tools/submission/submission_checker"  # inside the archive's top folder


def load_source(spec_path: Path) -> CheckerSource:
    try:
        data = yaml.safe_load(Path(spec_path).read_text(encoding="utf-8")) or {}
        entry = data["tools"]["submission_checker"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        raise UsageError(f"{spec_path}: no tools.submission_checker entry (url, commit, sha256)") from None
    try:
        return CheckerSource(**entry)
    except Exception as exc:
        raise UsageError(f"{spec_path}: tools.submission_checker: {str(exc).splitlines()[0]}") from None


def checker_dir(cache: Path, source: CheckerSource) -> Path:
    return Path(cache) / "tools" / f"submission-checker-{source.commit[:12]}"


def _artifact(source: CheckerSource):
    """The archive as a lock-file entry (images.lock.yaml, keyed by URL like the models)."""
    from launcher.spec.model import Artifact

    return Artifact.model_construct(name=f"inference-{source.commit[:12]}.tar.gz", url=source.url,
                                    sha256=source.sha256, md5=None, size=None)


def fetch(source: CheckerSource, cache: Path, lock, downloader, say=print) -> Path:
    """Download, verify and unpack the checker; returns its unpacked folder (cached).
    ``lock``: the LockFile beside images.yaml; ``downloader``: launcher.fetch.Downloader."""
    target = checker_dir(cache, source)
    if (target / source.module / "main.py").is_file():
        say(f"submission checker {source.commit[:12]} is in the cache ({target})")
        return target
    archive = target.with_name(target.name + ".tar.gz")
    partial = archive.with_name(archive.name + ".partial")
    archive.parent.mkdir(parents=True, exist_ok=True)
    if not archive.exists():
        downloader.download(source.url, partial, "submission checker", log=say)
        os.replace(partial, archive)
    data = archive.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    artifact = _artifact(source)
    entry = lock.entry(artifact) or {}
    expected = source.sha256 or entry.get("sha256")
    if expected and digest != expected:
        archive.unlink()
        where = "images.yaml" if source.sha256 else str(lock.path)
        raise FetchError(f"submission checker: {source.url} has sha256 {digest}, expected "
                         f"{expected} ({where}); the file was deleted")
    _unpack(archive, target, source)
    if not entry:
        lock.record(artifact, hashlib.md5(data, usedforsecurity=False).hexdigest(), digest, len(data))
        if not source.sha256:
            say(f"submission checker: images.yaml declares no sha256; recorded {digest} in "
                f"{lock.path} (later fetches must match it)")
    say(f"submission checker {source.commit[:12]}: {target}")
    return target


def _unpack(archive: Path, target: Path, source: CheckerSource) -> None:
    partial = target.with_name(target.name + ".unpacking")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            tops = {m.name.split("/", 1)[0] for m in members}
            if len(tops) != 1:
                raise FetchError(f"{archive}: expected one top folder, found {len(tops)}")
            tar.extractall(partial, filter="data")
    except (tarfile.TarError, OSError) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise FetchError(f"{archive}: not a readable source archive ({exc})") from None
    top = partial / tops.pop()
    if not (top / source.module / "main.py").is_file():
        shutil.rmtree(partial, ignore_errors=True)
        raise FetchError(f"{archive}: no {source.module}/main.py inside; not the checker's source")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(top, target)
    shutil.rmtree(partial, ignore_errors=True)


# ---- the tools image --------------------------------------------------------------------------

DOCKERFILE = """\
# generated by mlperf-docker (submission check): the MLPerf submission checker, no network
FROM {base}
COPY deps/ /opt/checker/deps/
COPY source/ /opt/checker/source/
ENV PYTHONPATH=/opt/checker/deps PYTHONDONTWRITEBYTECODE=1
WORKDIR {workdir}
ENTRYPOINT ["python3", "-m", "{package}.main"]
"""


def image_tag(repository: str, source: CheckerSource) -> str:
    return f"{repository}/tools:submission-checker-{source.commit[:12]}"


def build_context(checker: Path, source: CheckerSource, base: str, out: Path) -> Path:
    """The tools image's build context: the checker's tools/submission, PyYAML (pure Python)."""
    submission = Path(source.module).parent  # tools/submission
    shutil.copytree(checker / submission, out / "source" / submission,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests",
                                                  "directory_structure_samples"))
    shutil.copytree(Path(yaml.__file__).parent, out / "deps" / "yaml",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd"))
    workdir = f"/opt/checker/source/{submission.as_posix()}"
    (out / "Dockerfile").write_text(DOCKERFILE.format(
        base=base, workdir=workdir, package=Path(source.module).name), encoding="utf-8")
    return out


def _docker(args: list[str], docker: str = "docker", **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([docker, *args], capture_output=True, text=True, **kwargs)
    except FileNotFoundError:
        raise EngineError(f"{docker}: not found; the checker runs in a container") from None


def ensure_image(checker: Path, source: CheckerSource, base: str, repository: str,
                 docker: str = "docker", say=print) -> str:
    tag = image_tag(repository, source)
    if _docker(["image", "inspect", tag], docker).returncode == 0:
        return tag
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mlperf-checker-") as tmp:
        context = build_context(checker, source, base, Path(tmp))
        say(f"building the checker image {tag} (FROM {base}, no network)")
        proc = _docker(["build", "--network", "none", "-t", tag, str(context)], docker)
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise EngineError(f"building {tag} failed: {last[0]}")
    return tag


def run_command(tag: str, tree: Path, version: str, user: str | None = None,
                docker: str = "docker") -> list[str]:
    user = user or f"{os.getuid()}:{os.getgid()}"
    return [docker, "run", "--rm", "--network", "none", "--user", user,
            "-v", f"{Path(tree).resolve()}:/submission:ro", tag,
            "--input", "/submission", "--version", version, "--csv", "/tmp/summary.csv"]


# ---- its output, per result -------------------------------------------------------------------

_LINE = re.compile(r"^\[[^\]]*?\b(INFO|WARNING|ERROR|CRITICAL)\]\s?(.*)$|^(INFO|WARNING|ERROR|CRITICAL):[^:]*:(.*)$")
_RESULT = re.compile(r"results/([^/\s]+)/([^/\s]+)/([^/\s]+)")


@dataclass
class Verdict:
    result: str  # system/benchmark/scenario
    valid: bool | None = None
    messages: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    other_errors: list[str] = field(default_factory=list)
    summary: str | None = None

    @property
    def ok(self) -> bool:
        return self.summary is not None and "looks OK" in self.summary and \
            all(v.valid for v in self.verdicts.values())

    def lines(self) -> list[str]:
        out = []
        for name, verdict in sorted(self.verdicts.items()):
            out.append(f"{'valid' if verdict.valid else 'INVALID'}  {name}")
            out += [f"    {message}" for message in verdict.messages]
        out += [f"error: {message}" for message in self.other_errors]
        out.append(self.summary or "the checker printed no SUMMARY line (it failed; output above)")
        return out


def parse_output(text: str, tree_root: str = "/submission") -> CheckReport:
    """The checker's log lines -> per-result verdicts with its own ERROR messages."""
    report = CheckReport()
    current = None  # the result the checker is working on (its last line naming one)
    for raw in text.splitlines():
        match = _LINE.match(raw.strip())
        if not match:
            continue
        level = match.group(1) or match.group(3)
        message = (match.group(2) if match.group(1) else match.group(4)).strip()
        message = message.replace(tree_root.rstrip("/") + "/", "")
        if message.startswith("SUMMARY:"):
            report.summary = message
            continue
        where = _RESULT.search(message)
        key = "/".join(where.groups()) if where else None
        if key:
            current = key
        elif level in ("ERROR", "CRITICAL") and current and not message.startswith("SUMMARY"):
            key = current  # e.g. "Early stopping condition was not met": no path in the message
        if key and not message.startswith(("Results ", "NoResults ")):
            message = re.sub(r"\S*results/" + re.escape(key) + "/?", "", message).strip()
        if message.startswith("Results ") and key:
            report.verdicts.setdefault(key, Verdict(key)).valid = True
        elif message.startswith("NoResults ") and key:
            report.verdicts.setdefault(key, Verdict(key)).valid = False
        elif level == "WARNING" and key and not message.startswith("Execution of check"):
            verdict = report.verdicts.setdefault(key, Verdict(key))
            verdict.messages.append(f"warning: {message}")
        elif level in ("ERROR", "CRITICAL"):
            if key:
                verdict = report.verdicts.setdefault(key, Verdict(key))
                if message not in verdict.messages and not message.startswith("Some "):
                    verdict.messages.append(message)
            else:
                report.other_errors.append(message)
    for verdict in report.verdicts.values():
        if verdict.valid is None:
            verdict.valid = not any(not m.startswith("warning: ") for m in verdict.messages)
    return report


def require_tree(tree: Path) -> None:
    tree = Path(tree)
    if not tree.is_dir() or not any((tree / d).is_dir() for d in ("closed", "open", "network")):
        raise UsageError(f"{tree}: not a submission tree (expected closed/, open/ or network/ "
                         "inside; give the folder `submission generate --output` wrote)")


def check(tree: Path, tag: str, version: str, docker: str = "docker",
          echo=None) -> tuple[CheckReport, str]:
    """Run the checker image on ``tree`` (a folder holding closed/ or open/)."""
    tree = Path(tree)
    require_tree(tree)
    proc = subprocess.run(run_command(tag, tree, version, docker=docker), capture_output=True,
                          text=True, errors="replace")
    output = (proc.stdout or "") + (proc.stderr or "")
    if echo:
        for line in io.StringIO(output):
            echo(line.rstrip("\n"))
    return parse_output(output), output
