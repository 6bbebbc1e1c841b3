"""Hugging Face checkpoints (images.yaml `hf_repo`): fetched with the user's own token, verified, mounted.

The Hub API lists a revision's files with their digests (`GET {endpoint}/api/models/{repo}/revision/{rev}
?blobs=true`: `sha` is the commit; each sibling has its `size`, LFS files `lfs.sha256`, the others a git
`blobId`). Every file is downloaded from `{endpoint}/{repo}/resolve/{commit}/{file}` by fetch's Downloader
(resume, proxies, --ca-bundle) into a `.partial` file and checked (sha256, or the git blob sha1) before it
is moved into `<commit>.partial/`; the folder becomes `<commit>/` once every file is in. The first verified
fetch records the commit and the digests in images.lock.yaml (`checkpoints:`); later fetches download that
commit and must match them. The token (--hf-token-file or HF_TOKEN) goes only to the Hub's host, as an
unredirected `Authorization` header (never to the CDN a resolve redirects to), and into no message or file.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from launcher.airgap.download import CHUNK, USER_AGENT, Downloader, HTTPStatusError, _reason, digests, opener
from launcher.airgap.lockfile import LockFile
from launcher.errors import FetchError, UsageError
from launcher.spec.model import HfRepo

DEFAULT_ENDPOINT = "https://huggingface.co"
TOKEN_ENV = "HF_TOKEN"


def endpoint() -> str:
    """The Hub: HF_ENDPOINT (a mirror, a test's fake), else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def read_token(token_file: Path | None) -> str | None:
    """The user's token: the file's one line, else HF_TOKEN, else None. Messages never quote it."""
    if token_file is not None:
        try:
            token = token_file.expanduser().read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--hf-token-file {token_file}: cannot read it "
                             f"({getattr(exc, 'strerror', None) or 'not text'})") from None
        if not token or any(c.isspace() or not c.isprintable() for c in token):
            raise UsageError(f"--hf-token-file {token_file}: expected one token on one line")
        return token
    return os.environ.get(TOKEN_ENV, "").strip() or None


def lock_key(hf: HfRepo) -> str:
    return f"{hf.repo}@{hf.revision}"


def folder(cache: Path, hf: HfRepo, commit: str) -> Path:
    """Where a commit's verified files live: <cache>/checkpoints/<owner>--<name>/<commit>/."""
    return cache / "checkpoints" / hf.repo.replace("/", "--") / commit


def fetched(cache: Path, lock: LockFile, hf: HfRepo) -> Path | None:
    """The complete folder of the locked commit (every locked file there, at its size), or None."""
    entry = lock.checkpoint(lock_key(hf))
    if not entry:
        return None
    path = folder(cache, hf, entry["commit"])
    complete = all((path / name).is_file() and (path / name).stat().st_size == want["size"]
                   for name, want in entry["files"].items())
    return path if complete else None


# ---- digests ------------------------------------------------------------------------------------

def git_blob_sha1(path: Path) -> str:
    """The git object id of a file's content (what the Hub lists as a non-LFS file's blobId)."""
    sha1 = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            sha1.update(chunk)
    return sha1.hexdigest()


def problem(path: Path, want: dict) -> str | None:
    """One phrase naming the mismatch (expected and got), or None when the file matches `want`
    ({size, sha256} or {size, git_sha1})."""
    if path.stat().st_size != want["size"]:
        return f"size mismatch (expected {want['size']} bytes, got {path.stat().st_size})"
    if "sha256" in want:
        got = digests(path)[1]
        return None if got == want["sha256"] else f"sha256 mismatch (expected {want['sha256']}, got {got})"
    got = git_blob_sha1(path)
    return None if got == want["git_sha1"] else f"git blob sha1 mismatch (expected {want['git_sha1']}, got {got})"


def _describe(want: dict | None) -> str:
    if want is None:
        return "no such file"
    algo = "sha256" if "sha256" in want else "git_sha1"
    return f"{algo} {want[algo]}, {want['size']} bytes"


# ---- the Hub ------------------------------------------------------------------------------------

def _refused(hf: HfRepo, code: int) -> FetchError:
    return FetchError(f"{hf.repo}: the Hugging Face Hub refused the token (HTTP {code}): check it, and accept the "
                      f"model's licence on {DEFAULT_ENDPOINT}/{hf.repo} with the same account")


def listing(hf: HfRepo, revision: str, token: str | None, ca_bundle: Path | None,
            timeout: float = 60.0) -> tuple[str, dict[str, dict]]:
    """(commit, {file: {size, sha256 | git_sha1}}) of the revision's files matching the repo's patterns."""
    url = f"{endpoint()}/api/models/{hf.repo}/revision/{urllib.parse.quote(revision, safe='')}?blobs=true"
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
    if token:
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    try:
        with opener(ca_bundle).open(request, timeout=timeout) as response:
            info = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (401, 403):
            raise _refused(hf, exc.code) from None
        raise FetchError(f"{hf.repo}: {url} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"{hf.repo}: cannot list the files of revision {revision} at {url}: {_reason(exc)}") from None
    except ValueError:
        raise FetchError(f"{hf.repo}: {url} did not answer the Hub API's JSON") from None
    try:
        commit = info["sha"]
        files = {}
        for sibling in info["siblings"]:
            name = sibling["rfilename"]
            if name.startswith("/") or ".." in name.split("/"):
                raise FetchError(f"{hf.repo}: {url} lists a file outside the repository ({name!r})")
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in hf.files):
                lfs = sibling.get("lfs")
                files[name] = ({"size": int(lfs["size"]), "sha256": lfs["sha256"]} if lfs
                               else {"size": int(sibling["size"]), "git_sha1": sibling["blobId"]})
    except (KeyError, TypeError, ValueError):
        raise FetchError(f"{hf.repo}: {url} answered without the commit, sizes and digests (sha, siblings with "
                         "blobs=true)") from None
    if not files:
        raise FetchError(f"{hf.repo}@{revision}: no file matches {', '.join(hf.files)}")
    return commit, files


@dataclass(frozen=True)
class Checkpoint:
    name: str
    path: Path
    size: int
    downloaded: bool


def fetch_checkpoint(hf: HfRepo, cache: Path, lock: LockFile, downloader: Downloader, token: str | None,
                     lock_file: Callable[[Path], object], log: Callable[[str], None], bars=None) -> Checkpoint:
    """The repo's files at the locked commit (else the revision's, recorded), verified, in their folder;
    `bars` (fetch's progress bars) shows a bar per file."""
    key = lock_key(hf)
    entry = lock.checkpoint(key)
    done = fetched(cache, lock, hf)
    if done is not None:
        bad = next(((n, p) for n, want in entry["files"].items() if (p := problem(done / n, want))), None)
        size = sum(want["size"] for want in entry["files"].values())
        if bad is None:
            return Checkpoint(key, done, size, downloaded=False)
        log(f"{key}: {bad[0]} in the cache fails verification: {bad[1]}; deleted, fetching it again")
        (done / bad[0]).unlink()
        shutil.rmtree(done.with_name(done.name + ".partial"), ignore_errors=True)  # a stale staging folder
        os.replace(done, done.with_name(done.name + ".partial"))  # the verified rest is kept
    if hf.gated and not token:
        raise UsageError(no_token(hf))
    commit, files = listing(hf, entry["commit"] if entry else hf.revision, token, downloader.ca_bundle)
    if entry:
        if commit != entry["commit"] or files != entry["files"]:
            changed = next((n for n in sorted(set(files) | set(entry["files"]))
                            if files.get(n) != entry["files"].get(n)), "the commit")
            want, got = _describe(entry["files"].get(changed)), _describe(files.get(changed))
            raise FetchError(f"{key}: the Hub's listing of {entry['commit']} differs from {lock.path} at {changed} "
                             f"(expected {want}, got {got})")
    final = folder(cache, hf, commit)
    staging = final.with_name(final.name + ".partial")
    handle = lock_file(staging)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        staging.mkdir(parents=True, exist_ok=True)
        for name, want in files.items():
            target = staging / name
            if target.exists() and problem(target, want) is None:
                continue
            target.unlink(missing_ok=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            url = f"{endpoint()}/{hf.repo}/resolve/{commit}/{urllib.parse.quote(name)}"
            task = bars.add(f"{hf.repo} {name}", want["size"]) if bars else None
            progress = dict(on_total=lambda total, done: bars.reset(task, total, done),
                            on_bytes=lambda n: bars.advance(task, n)) if bars else {}
            try:
                downloader.download(url, partial, f"{key} {name}", want["size"], log=log, private_headers=headers,
                                    **progress)
            except HTTPStatusError as exc:
                if bars:
                    bars.done(task, "[red]failed")
                if partial.exists() and partial.stat().st_size == 0:
                    partial.unlink()
                if exc.code in (401, 403):
                    raise _refused(hf, exc.code) from None
                raise
            mismatch = problem(partial, want)
            if mismatch is not None:
                partial.unlink()
                if bars:
                    bars.done(task, "[red]failed")
                raise FetchError(f"{key} {name}: {mismatch}, downloaded from {url}; the file was deleted")
            partial.chmod(0o644)  # readable by any container user
            os.replace(partial, target)
            if bars:
                bars.done(task)
        if final.exists():  # an older, incomplete copy of the same commit
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        handle.close()
        Path(str(staging) + ".lock").unlink(missing_ok=True)
    if not entry:
        lock.record_checkpoint(key, {"commit": commit, "files": files})
        log(f"{key}: verified {len(files)} files; recorded commit {commit} and their digests in {lock.path}")
    return Checkpoint(key, final, sum(want["size"] for want in files.values()), downloaded=True)


def no_token(hf: HfRepo) -> str:
    return (f"{hf.repo} is gated: give your own Hugging Face token with --hf-token-file FILE or {TOKEN_ENV} "
            f"(after accepting the licence on {DEFAULT_ENDPOINT}/{hf.repo})")
