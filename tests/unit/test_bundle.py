"""Bundles without a daemon: the file format, its checks, and what load hands to the engine."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from pathlib import Path

import pytest

from launcher.airgap import bundle
from launcher import settings as cfg
from launcher.engine.base import ContainerEngine, ImageInfo
from launcher.errors import UsageError
from launcher.session import Session
from launcher.settings import Settings
from launcher.spec.model import load_spec
from launcher.spec.variation import parse_variation
from unit_support import cli

pytestmark = pytest.mark.timeout(60)

IMAGES = hashlib.sha256(b"layers").digest() * 40_000  # 1.28 MB standing in for `docker save` output
TAG = "lab/onnxruntime-cpu:resnet50-fp32-standin"


def manifest() -> dict:
    return {"images": [{"tag": TAG, "id": "sha256:" + "a" * 64, "variation": "_cpu,_onnxruntime,_resnet50,_fp32",
                        "key": {"framework": "onnxruntime", "device": "cpu", "model": "resnet50", "precision": "fp32",
                                "standin": True}}],
            "spec_digest": load_spec().digest}


def chunks(data: bytes, size: int = 65536):
    for i in range(0, len(data), size):
        yield data[i:i + size]


@pytest.fixture
def good(tmp_path) -> Path:
    path = tmp_path / "good.tar"
    bundle.write_bundle(path, chunks(IMAGES), manifest())
    return path


def test_round_trip_and_layout(good):
    read = bundle.read_manifest(good)
    assert read["format"] == bundle.FORMAT
    assert read["members"] == {"images.tar": {"sha256": hashlib.sha256(IMAGES).hexdigest(), "size": len(IMAGES)}}
    assert read["images"][0]["tag"] == TAG
    with tarfile.open(good) as tar:  # a plain tar any tool can list and extract
        assert tar.getnames() == ["images.tar", "manifest.json", "manifest.sha256"]
        assert tar.extractfile("images.tar").read() == IMAGES
    assert [p.name for p in good.parent.iterdir()] == ["good.tar"]  # no temporary file left behind


def test_never_overwrites_without_force(good):
    before = good.read_bytes()
    with pytest.raises(UsageError, match="already exists; choose another name or pass --force"):
        bundle.write_bundle(good, chunks(b"other"), manifest())
    assert good.read_bytes() == before
    bundle.write_bundle(good, chunks(b"other" * 1000), manifest(), force=True)
    assert bundle.read_manifest(good)["members"]["images.tar"]["size"] == 5000


def test_a_failed_write_leaves_nothing(tmp_path):
    def broken():
        yield b"x" * 1000
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        bundle.write_bundle(tmp_path / "b.tar", broken(), manifest())
    assert list(tmp_path.iterdir()) == []


def damage_truncate(path: Path, data: bytes) -> None:
    path.write_bytes(data[: len(data) // 2])


def damage_flip_image_byte(path: Path, data: bytes) -> None:
    at = 512 + len(IMAGES) // 3
    path.write_bytes(data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:])


def damage_flip_manifest_byte(path: Path, data: bytes) -> None:
    at = data.index(b'"tag": "lab/') + len('"tag": "')
    path.write_bytes(data[:at] + b"m" + data[at + 1:])


def damage_cut_the_end(path: Path, data: bytes) -> None:
    path.write_bytes(data[: data.index(b'{\n "created"') if b'{\n "created"' in data else data.index(b"{\n")])


def _rewrite_without(name: str):
    def damage(path: Path, data: bytes) -> None:
        with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as dst:
            for member in src:
                if member.name != name:
                    dst.addfile(member, src.extractfile(member))
    return damage


@pytest.mark.parametrize("damage, reason", [
    (damage_truncate, r"missing member manifest.json; truncated\?|cut short|not a readable tar"),
    (damage_flip_image_byte, r"images.tar sha256 mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\)"),
    (damage_flip_manifest_byte, r"manifest.json sha256 is [0-9a-f]{64}, manifest.sha256 says [0-9a-f]{64}"),
    (damage_cut_the_end, r"missing member manifest.json|cut short|not a readable tar"),
    (_rewrite_without("images.tar"), r"missing member images.tar"),
    (_rewrite_without("manifest.sha256"), r"missing member manifest.sha256"),
])
def test_damaged_bundles_are_refused(good, tmp_path, damage, reason):
    bad = tmp_path / "bad.tar"
    damage(bad, good.read_bytes())
    with pytest.raises(bundle.BundleError) as info:
        bundle.read_manifest(bad)
    assert info.value.exit_code == 7
    message = str(info.value)
    assert message.startswith(f"{bad}: damaged bundle (") and message.endswith("); nothing was loaded")
    assert re.search(reason, message), message


class FakeEngine(ContainerEngine):
    """What bundle.save/load use of the ContainerEngine interface, in memory."""

    def __init__(self, infos=None):
        self.infos = infos or {}
        self.loaded: list[bytes] = []
        self.tags: list[tuple[str, str]] = []

    def image_info(self, tag):
        return self.infos.get(tag)

    def image_exists(self, tag):
        return True

    def save(self, tags):
        return iter([IMAGES])

    def load(self, archive):
        self.loaded.append(archive.read())

    def tag(self, image, tag):
        self.tags.append((image, tag))

    ensure_reachable = host_info = build = create = run = remove_container = remove_image = None


def fake_session(engine, monkeypatch, repository="lab"):
    monkeypatch.setenv("MLPERF_DOCKER_REPOSITORY", repository)
    return Session(Settings(spec=load_spec(), config=cfg.UserConfig(), cache=Path("/nonexistent")), engine)


def test_load_hands_the_images_to_the_engine_and_tags_them(good, monkeypatch):
    engine = FakeEngine()
    loaded = bundle.load(fake_session(engine, monkeypatch), good)
    assert engine.loaded == [IMAGES]
    assert engine.tags == [("sha256:" + "a" * 64, TAG)]
    assert [item.tag for item in loaded] == [TAG]
    engine = FakeEngine()
    bundle.load(fake_session(engine, monkeypatch), good, repository="registry.lab/mlperf")
    assert engine.tags == [("sha256:" + "a" * 64, "registry.lab/mlperf/onnxruntime-cpu:resnet50-fp32-standin")]


def test_a_damaged_bundle_loads_nothing(good, tmp_path, monkeypatch):
    bad = tmp_path / "bad.tar"
    damage_flip_image_byte(bad, good.read_bytes())
    engine = FakeEngine()
    with pytest.raises(bundle.BundleError):
        bundle.load(fake_session(engine, monkeypatch), bad)
    assert engine.loaded == [] and engine.tags == []


def test_save_writes_the_manifest(tmp_path, monkeypatch):
    info = ImageInfo("sha256:" + "b" * 64, 123, {"io.mlperf-docker.model": "resnet50"})
    engine = FakeEngine({TAG: info})
    session = fake_session(engine, monkeypatch)
    saved = bundle.save(session, [parse_variation(None, session.spec)], tmp_path / "out.tar")
    assert saved.tags == [TAG]
    read = bundle.read_manifest(saved.path)
    [image] = read["images"]
    assert image["id"] == info.id and image["variation"] == "_cpu,_onnxruntime,_resnet50,_fp32"
    assert read["spec_digest"] == session.spec.digest and read["repository"] == "lab"


def test_save_of_an_image_not_built_names_the_build_command(tmp_path, monkeypatch):
    session = fake_session(FakeEngine(), monkeypatch)
    with pytest.raises(UsageError, match=r"image lab/onnxruntime-cpu:resnet50-fp32 is not built; run "
                                         r"`mlperf-docker build --variation _cpu,_onnxruntime,_resnet50,_fp32 --real` first"):
        bundle.save(session, [parse_variation(None, session.spec)], tmp_path / "out.tar", standin=False)
    assert list(tmp_path.iterdir()) == []


def test_cli_load_of_a_damaged_bundle_is_one_line_exit_7(good, tmp_path):
    bad = tmp_path / "bad.tar"
    damage_truncate(bad, good.read_bytes())
    result = cli("bundle", "load", bad)
    assert result.returncode == 7
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"error: {bad}: damaged bundle (")
    missing = cli("bundle", "load", tmp_path / "nope.tar")
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")


def test_cli_verify_only_lists_the_images(good):
    result = cli("bundle", "load", "--verify-only", good)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"verified {TAG} (sha256:aaaaaaaaaaaa, _cpu,_onnxruntime,_resnet50,_fp32)")
