"""Bundles: images moved between machines as one verified tar file.

A bundle is an uncompressed tar with three members:

    images.tar       `docker save` of the images (through the engine), tags included
    manifest.json    format, creation time, images.yaml digest, every image's tag, id and variation,
                     and the sha256 and size of every other member
    manifest.sha256  the sha256 of manifest.json

`bundle load` checks all of it before it hands anything to the engine: a truncated file, a flipped
byte or a missing member is refused with one line, and nothing is loaded. `bundle save` writes to a
temporary file beside the output and renames it into place; it never replaces an existing file
unless --force.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from launcher.errors import BundleError, EngineError, UsageError
from launcher.session import Session
from launcher.spec.variation import ImageKey, Variation, require_supported

FORMAT = "mlperf-docker-bundle/1"
IMAGES = "images.tar"
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"
CHUNK = 1 << 20



@dataclass(frozen=True)
class Saved:
    path: Path
    size: int
    tags: list[str]


# ---- the file format ----------------------------------------------------------------------------

def _header(name: str, size: int, mtime: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o644
    header = info.tobuf(format=tarfile.GNU_FORMAT)  # one 512-byte block at any size (base-256 above 8 GiB)
    assert len(header) == tarfile.BLOCKSIZE
    return header


def write_bundle(out: Path, images: Iterable[bytes], manifest: dict, force: bool = False) -> int:
    """Stream `images` (docker save output) into a bundle at `out`; returns the bundle's size.

    The images member's header is written last (its size is known only at the end), so nothing is
    copied twice; the bundle appears under its name only once complete."""
    if out.exists() and not force:
        raise UsageError(f"{out} already exists; choose another name or pass --force to replace it")
    if out.is_dir():
        raise UsageError(f"{out} is a directory; give a file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.partial")
    mtime = int(dt.datetime.now(dt.timezone.utc).timestamp())
    try:
        with tmp.open("wb") as f:
            f.write(b"\0" * tarfile.BLOCKSIZE)
            digest, size = hashlib.sha256(), 0
            for chunk in images:
                f.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            if size % tarfile.BLOCKSIZE:
                f.write(b"\0" * (tarfile.BLOCKSIZE - size % tarfile.BLOCKSIZE))
            end = f.tell()
            f.seek(0)
            f.write(_header(IMAGES, size, mtime))
            f.seek(end)
            manifest = dict(manifest, format=FORMAT, members={IMAGES: {"sha256": digest.hexdigest(), "size": size}})
            body = json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n"
            with tarfile.open(fileobj=f, mode="w", format=tarfile.GNU_FORMAT) as tar:
                for name, data in ((MANIFEST, body), (MANIFEST_SUM, hashlib.sha256(body).hexdigest().encode() + b"\n")):
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode = len(data), mtime, 0o644
                    tar.addfile(info, io.BytesIO(data))
            f.flush()
            os.fsync(f.fileno())
        if force:
            os.replace(tmp, out)
        else:
            try:
                os.link(tmp, out)  # fails if `out` appeared meanwhile: never overwrite without --force
            except FileExistsError:
                raise UsageError(f"{out} already exists; choose another name or pass --force to replace it") from None
            tmp.unlink()
    finally:
        tmp.unlink(missing_ok=True)
    return out.stat().st_size


def _damaged(path: Path, why: str) -> BundleError:
    return BundleError(f"{path}: damaged bundle ({why}); nothing was loaded")


def read_manifest(path: Path) -> dict:
    """Verify the bundle (every member's sha256 and size, the manifest's own sha256) and return its
    manifest. Raises BundleError naming the first problem; reads the whole file."""
    if not path.is_file():
        raise UsageError(f"{path}: no such bundle file")
    found: dict[str, tuple[str, int]] = {}
    manifest_bytes = manifest_sum = None
    try:
        with tarfile.open(path, mode="r:") as tar:
            for member in tar:
                if not member.isfile() or member.name in found:
                    raise _damaged(path, f"unexpected member {member.name!r}")
                stream = tar.extractfile(member)
                assert stream is not None
                digest, size = hashlib.sha256(), 0
                keep = member.name in (MANIFEST, MANIFEST_SUM) and member.size < (1 << 24)
                kept = bytearray()
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    if keep:
                        kept += chunk
                if size != member.size:
                    raise _damaged(path, f"{member.name} is cut short ({size} of {member.size} bytes)")
                found[member.name] = (digest.hexdigest(), size)
                if member.name == MANIFEST:
                    manifest_bytes = bytes(kept)
                elif member.name == MANIFEST_SUM:
                    manifest_sum = bytes(kept).decode(errors="replace").strip()
            size = path.stat().st_size  # the end-of-archive blocks and the record padding, as written
            if size < tar.offset + 2 * tarfile.BLOCKSIZE or size % tarfile.RECORDSIZE:
                raise _damaged(path, "cut short after its last member; truncated?")
    except tarfile.TarError as exc:
        raise _damaged(path, f"not a readable tar: {exc}") from None
    except OSError as exc:
        raise BundleError(f"{path}: cannot read ({exc.strerror or exc})") from None
    for required in (MANIFEST, MANIFEST_SUM):
        if required not in found:
            raise _damaged(path, f"missing member {required}; truncated?")
    if found[MANIFEST][0] != manifest_sum:
        raise _damaged(path, f"{MANIFEST} sha256 is {found[MANIFEST][0]}, {MANIFEST_SUM} says {manifest_sum}")
    try:
        manifest = json.loads(manifest_bytes or b"")
    except ValueError:
        raise _damaged(path, f"{MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: not an {FORMAT} bundle (format {manifest.get('format') if isinstance(manifest, dict) else None!r})")
    members = manifest.get("members") or {}
    for name, want in members.items():
        if name not in found:
            raise _damaged(path, f"missing member {name}")
        got_sha, got_size = found[name]
        if got_size != want.get("size"):
            raise _damaged(path, f"{name} has {got_size} bytes, the manifest says {want.get('size')}")
        if got_sha != want.get("sha256"):
            raise _damaged(path, f"{name} sha256 mismatch (expected {want.get('sha256')}, got {got_sha})")
    extra = set(found) - set(members) - {MANIFEST, MANIFEST_SUM}
    if extra:
        raise _damaged(path, f"unexpected member {sorted(extra)[0]!r}")
    if IMAGES not in members:
        raise _damaged(path, f"the manifest lists no {IMAGES}")
    return manifest


class _Member(io.RawIOBase):
    """One verified member of a bundle, read as a stream (for the engine's load request)."""

    def __init__(self, path: Path, name: str):
        self._tar = tarfile.open(path, mode="r:")
        stream = self._tar.extractfile(self._tar.getmember(name))
        assert stream is not None
        self._stream = stream
        self.size = self._tar.getmember(name).size
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def tell(self) -> int:  # with __len__, lets the HTTP client send a Content-Length
        return self._position

    def __len__(self) -> int:
        return self.size

    def close(self) -> None:
        if not self.closed:
            self._tar.close()
        super().close()


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


# ---- with the engine ----------------------------------------------------------------------------

def save(session: Session, variations: list[Variation], out: Path, standin: bool = True, force: bool = False) -> Saved:
    """docker save (through the engine) the variations' images into one bundle with its manifest."""
    from launcher.build.image import revision

    if out.exists() and not force:
        raise UsageError(f"{out} already exists; choose another name or pass --force to replace it")
    images, seen = [], set()
    for variation in variations:
        require_supported(variation, session.spec)
        key = variation.image_key(standin)
        tag = key.tag(session.repository)
        if tag in seen:
            continue
        seen.add(tag)
        info = session.engine.image_info(tag)
        if info is None:
            real = " --real" if not standin else ""
            raise UsageError(f"image {tag} is not built; run `mlperf-docker build --variation {variation}{real}` first")
        images.append({"tag": tag, "id": info.id, "size": info.size, "variation": str(variation),
                       "key": key.as_dict(), "labels": info.labels})
    manifest = {
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tool": {"name": "mlperf-docker", "revision": revision()},
        "spec_digest": session.spec.digest,
        "repository": session.repository,
        "images": images,
    }
    tags = [image["tag"] for image in images]
    session.say(f"saving {', '.join(tags)} to {out}")
    size = write_bundle(out, session.engine.save(tags), manifest, force=force)
    return Saved(out, size, tags)


@dataclass(frozen=True)
class Loaded:
    tag: str
    id: str
    variation: str


def load(session: Session, path: Path, repository: str | None = None, verify_only: bool = False) -> list[Loaded]:
    """Verify the whole bundle, then load it and tag every image (under `repository` if given)."""
    manifest = read_manifest(path)
    images = manifest.get("images") or []
    if manifest.get("spec_digest") != session.spec.digest:
        session.say(f"note: the bundle was made from another images.yaml ({manifest.get('spec_digest')}); "
                    "its images are complete and load as they are")
    targets = []
    for image in images:
        tag = image["tag"]
        if repository:
            tag = ImageKey.of(image["key"]).tag(repository)
        targets.append(Loaded(tag, image["id"], image.get("variation", "")))
    if verify_only:
        return targets
    member = _Member(path, IMAGES)
    try:
        session.engine.load(member)
    except EngineError as exc:
        raise BundleError(f"{path}: {exc}") from None
    finally:
        member.close()
    for target in targets:
        if not session.engine.image_exists(target.id):
            raise BundleError(f"{path}: image {target.id} ({target.tag}) is not in the engine after loading")
        session.engine.tag(target.id, target.tag)
    return targets
