"""sdxl's launcher side. A user's checkpoint (--model DIR) is never scored by the stand-in image's tiny
CLIP and FID encoders: in accuracy mode (or both) the stand-in image refuses it with one line before
anything is written, naming --real; performance mode runs it (no scoring). The reference's real encoders
(open_clip's ViT-B-32.pt, sha256 in its URL; pytorch-fid's Inception weights, only a sha256 prefix in its
name) are declared and fetched verified, from a loopback server here."""

from __future__ import annotations

import hashlib
from contextlib import contextmanager

import pytest
import yaml
from pydantic import ValidationError

from launcher.airgap import fetch
from launcher.airgap.lockfile import LOCK_NAME
from launcher.build.artifacts import artifact_path
from launcher.errors import UsageError
from launcher.run.options import RunOptions
from launcher.run.plan import make_plan
from launcher.session import Session
from launcher.spec.model import DEFAULT_SPEC, Artifact
from launcher.spec.variation import parse_variation
from test_fetch import LoopbackServer, _no_proxy, no_wheels, session_for  # noqa: F401 (fixtures)
from unit_support import cli

VARIATION = "_pytorch,_cpu,_sdxl"


@pytest.fixture(scope="module")
def session():
    return Session.open()


@pytest.mark.parametrize("mode", ["accuracy", "both"])
def test_standin_image_refuses_a_users_checkpoint_in_accuracy_mode(session, tmp_path, mode):
    checkpoint = tmp_path / "sdxl-checkpoint"
    checkpoint.mkdir()
    (checkpoint / "model_index.json").write_text("{}")
    variation = parse_variation(VARIATION, session.spec)
    with pytest.raises(UsageError, match=r"accuracy mode: the stand-in image scores CLIP and FID .*"
                                         r"run it with --mode performance \(no image bakes the real encoders"):
        make_plan(session, variation, RunOptions.of(output_dir=tmp_path / "out", custom_model=checkpoint, mode=mode))
    performance = make_plan(session, variation, RunOptions.of(output_dir=tmp_path / "out", custom_model=checkpoint,
                                                              mode="performance"))
    assert performance.benchmark.model_path.endswith("sdxl-checkpoint")
    captions = tmp_path / "coco" / "captions" / "captions.tsv"
    captions.parent.mkdir(parents=True)
    captions.write_text("id\tcaption\n1\ta cat\n")
    with pytest.raises(UsageError, match=r"no real sdxl model for pytorch: .* not baked into an image yet"):
        make_plan(session, variation, RunOptions.of(output_dir=tmp_path / "out", custom_model=checkpoint,
                                                    mode="performance", standin=False,
                                                    dataset_path=captions.parent.parent))
    # its own stand-in checkpoint is scored by its own encoders
    assert make_plan(session, variation, RunOptions.of(output_dir=tmp_path / "out", mode=mode))


def test_refusal_on_the_command_line_writes_nothing(tmp_path):
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "model_index.json").write_text("{}")
    proc = cli("run", "--variation", VARIATION, "--model", checkpoint, "--mode", "both",
               "--output_dir", tmp_path / "out")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: --model {checkpoint} in accuracy mode: ") and "--mode performance" in line, line
    assert not (tmp_path / "out").exists()


# ---- the real encoders: declared, fetched and verified (sha256, or torch.hub's sha256 prefix) ----------

CLIP_BYTES = b"an OpenAI CLIP archive stand-in" * 1000


def inception_bytes(prefix_ok: bool) -> tuple[bytes, str]:
    """A payload and the torch.hub-style name for it (its own sha256's first 8 digits, or someone else's)."""
    payload = b"inception weights stand-in" * 5000
    digest = hashlib.sha256(payload if prefix_ok else b"other").hexdigest()
    return payload, f"pt_inception-2015-12-05-{digest[:8]}.pth"


def sdxl_spec(folder, server, clip_sha, inception_name):
    raw = yaml.safe_load(DEFAULT_SPEC.read_text())
    raw["models"]["sdxl"]["accuracy_artifacts"] = [
        {"name": "ViT-B-32.pt", "url": server.url("/clip/ViT-B-32.pt"), "sha256": clip_sha},
        {"name": inception_name, "url": server.url(f"/fid/{inception_name}"),
         "sha256_prefix": inception_name.rsplit("-", 1)[1].split(".")[0]}]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "images.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return folder / "images.yaml"


def fetch_sdxl(session):
    return fetch.fetch(session, [parse_variation(VARIATION, session.spec)], backoff=0.01, show_progress=False)


def test_the_declared_encoders_are_the_references():
    declared = {a.name: a for a in Session.open().spec.models["sdxl"].accuracy_artifacts}
    clip = declared["ViT-B-32.pt"]
    assert clip.url.split("/")[-2] == clip.sha256  # open_clip's own check: the URL path carries the sha256
    fid = declared["pt_inception-2015-12-05-6726825d.pth"]
    assert fid.sha256_prefix == "6726825d" and fid.sha256 is None and fid.url.endswith("/" + fid.name)
    with pytest.raises(ValidationError, match="does not carry it"):
        Artifact(name="pt_inception.pth", url="https://x/pt_inception.pth", sha256_prefix="6726825d")


@contextmanager
def serving_encoders(tmp_path, payload: bytes, name: str):
    """A loopback server holding both encoders, and a session whose spec names it: (server, spec path, session)."""
    with LoopbackServer() as server:
        server.files["/clip/ViT-B-32.pt"] = CLIP_BYTES
        server.files[f"/fid/{name}"] = payload
        spec_path = sdxl_spec(tmp_path / "spec", server, hashlib.sha256(CLIP_BYTES).hexdigest(), name)
        yield server, spec_path, session_for(spec_path, tmp_path / "cache")


def test_encoders_fetched_verified_and_the_prefix_artifact_recorded(tmp_path, no_wheels):
    payload, name = inception_bytes(prefix_ok=True)
    with serving_encoders(tmp_path, payload, name) as (server, spec_path, session):
        report = fetch_sdxl(session)
        assert sorted(o.name for o in report.downloaded if o.kind == "artifact") == sorted(["ViT-B-32.pt", name])
        inception = session.spec.models["sdxl"].accuracy_artifacts[1]
        path = artifact_path(inception, session.cache)
        assert path.read_bytes() == payload and path.parent.name == f"sha256-{name[24:32]}"
        lock = yaml.safe_load((spec_path.parent / LOCK_NAME).read_text())["artifacts"]
        assert lock[inception.url]["sha256"] == hashlib.sha256(payload).hexdigest()
        assert lock[inception.url]["size"] == len(payload)
        assert server.requests and fetch_sdxl(session).downloaded == []  # cached and verified: nothing again


def test_a_file_whose_sha256_does_not_start_with_the_names_prefix_is_refused(tmp_path, no_wheels):
    payload, name = inception_bytes(prefix_ok=False)
    with serving_encoders(tmp_path, payload, name) as (server, spec_path, session):
        with pytest.raises(fetch.FetchError, match=rf"{name}: sha256 mismatch \(expected one starting "
                                                   rf"{name[24:32]}, got {hashlib.sha256(payload).hexdigest()}"):
            fetch_sdxl(session)
        inception = session.spec.models["sdxl"].accuracy_artifacts[1]
        assert not artifact_path(inception, session.cache).exists()
        lock = spec_path.parent / LOCK_NAME
        assert not lock.exists() or inception.url not in yaml.safe_load(lock.read_text())["artifacts"]


def test_unreachable_encoders_are_named(tmp_path, no_wheels):
    payload, name = inception_bytes(prefix_ok=True)
    with LoopbackServer() as server:  # serves nothing: 404 for both
        spec_path = sdxl_spec(tmp_path / "spec", server, hashlib.sha256(CLIP_BYTES).hexdigest(), name)
        session = session_for(spec_path, tmp_path / "cache")
        with pytest.raises(fetch.FetchError) as info:
            fetch_sdxl(session)
    assert "ViT-B-32.pt" in str(info.value) and name in str(info.value)
