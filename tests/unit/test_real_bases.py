"""Bases that fit their pins (issue 9): per-(framework, device) bases, harness pins per base, declared
package indexes; the lock file's `images:` section; `mlperf-docker lock` with pip's resolver stubbed."""

from __future__ import annotations

import pytest
import yaml

from launcher.airgap import lock as lock_mod
from launcher.airgap import resolve
from launcher.airgap.lockfile import LockFile
from launcher.errors import SpecError
from launcher.spec.model import DEFAULT_SPEC, load_spec
from unit_support import cli


def test_every_base_has_a_python_the_harness_pins_fit():
    spec = load_spec()
    for framework, device in spec.image_groups:
        base = spec.base_for(framework, device)
        reqs = spec.requirements(framework, device)
        # numpy 2.4.6 / pillow 13.0.0 have no cp310 wheels: a 3.10 base must replace them
        if base.python == "3.10":
            assert "numpy==2.4.6" not in reqs and "pillow==13.0.0" not in reqs, (framework, device)
        assert len({r.split("==")[0].lower() for r in reqs}) == len(reqs), (framework, device, reqs)


def test_tf_on_rocm_has_its_own_base_and_harness_pins():
    spec = load_spec()
    assert spec.check("tf", "rocm", "resnet50", "fp32").supported
    base = spec.base_for("tf", "rocm")
    assert base.image == "docker.io/rocm/dev-ubuntu-22.04:6.0.2" and base.python == "3.10"
    assert spec.base_for("onnxruntime", "rocm") == spec.base("rocm")  # the device's base for the others
    assert spec.requirements("tf", "rocm") == ["mlcommons-loadgen==6.0.17", "numpy==1.26.4", "pillow==12.3.0",
                                                "pyyaml==6.0.3", "tensorflow-rocm==2.14.0.600"]
    assert spec.framework_version("tf", "rocm") == "2.14.0.600"


def test_pytorch_indexes_are_declared():
    spec = load_spec()
    assert spec.index_urls("pytorch", "cpu")[1:] == ["https://download.pytorch.org/whl/cpu"]
    assert spec.index_urls("pytorch", "rocm")[1:] == ["https://download.pytorch.org/whl/rocm7.0"]
    assert spec.index_urls("onnxruntime", "cuda") == ["https://pypi.org/simple"]
    assert "transformers==4.57.6" in spec.requirements("pytorch", "cuda")


def test_harness_pins_must_be_pinned(tmp_path):
    text = DEFAULT_SPEC.read_text().replace("harness_pins: [numpy==1.26.4,", "harness_pins: [numpy>=1.26,")
    path = tmp_path / "images.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=r"frameworks\.tf\.installs\.rocm\.base\.harness_pins: .*NAME==VERSION"):
        load_spec(path)


def test_a_base_override_names_a_device_and_covers_its_framework_bases(monkeypatch, tmp_path):
    from launcher.settings import Settings

    monkeypatch.setenv("MLPERF_DOCKER_CONFIG", str(tmp_path / "none.yaml"))
    settings = Settings.resolve(cache=tmp_path)
    assert settings.base("rocm", "tf").image == "docker.io/rocm/dev-ubuntu-22.04:6.0.2"
    assert settings.base("rocm", "tf").python == "3.10" and settings.base("rocm").python == "3.12"
    settings = Settings.resolve(cache=tmp_path, bases=["rocm=lab/rocm:6.0,python=3.10"])
    assert settings.base("rocm", "tf").image == "lab/rocm:6.0"


def test_dockerfile_of_tf_rocm_names_its_own_base():
    text = (DEFAULT_SPEC.parent / "dockerfiles" / "tf-rocm.Dockerfile").read_text()
    assert "ARG BASE_IMAGE=docker.io/rocm/dev-ubuntu-22.04:6.0.2" in text and "ARG PYTHON_VERSION=3.10" in text


def _fake_resolver(calls):
    def fake(image, requirements, target, **kw):
        calls.append((image, tuple(requirements), target, kw))
        if image == "pytorch-rocm":
            raise resolve.IndexUnreachable(f"{image}: unchecked, download.pytorch.org not reachable (x)",
                                           ["download.pytorch.org"])
        if image == "tflite-cpu":
            raise resolve.ResolveError(f"{image}: does not resolve for Python 3.11: ERROR: No matching distribution")
        return [resolve.Resolved(r.split("==")[0], r.split("==")[1], "ab" * 32, "https://x/y.whl", "y.whl")
                for r in requirements]
    return fake


def test_lock_sorts_images_into_resolved_unchecked_and_failed():
    spec = load_spec()
    sets = lock_mod.image_sets(spec)
    assert [s.name for s in sets if not s.name.endswith("-converter")] == [f"{f}-{d}" for f, d in spec.image_groups]
    converters = {s.name: s for s in sets if s.name.endswith("-converter")}
    assert set(converters) == {"onnxruntime-cuda-converter", "onnxruntime-rocm-converter", "ncnn-cpu-converter"}
    assert "onnxconverter-common==1.16.0" in converters["onnxruntime-cuda-converter"].requirements
    assert converters["ncnn-cpu-converter"].target == next(s for s in sets if s.name == "ncnn-cpu").target
    assert all(c.no_deps for c in converters.values()) and not any(s.no_deps for s in sets if s.name not in converters)
    tf_rocm = next(s for s in sets if s.name == "tf-rocm")
    assert tf_rocm.target == resolve.Target("3.10", "linux/amd64", "2.35")
    # the models' own layers (pinned, installed with --no-deps) resolve with the shared environment
    ort_cuda = next(s for s in sets if s.name == "onnxruntime-cuda")
    model_pins = {p for m in spec.image_groups[("onnxruntime", "cuda")] for p in spec.models[m].requirements}
    assert model_pins and model_pins <= set(ort_cuda.requirements)
    calls = []
    result = lock_mod.lock(sets, resolve=_fake_resolver(calls), log=lambda line: None)
    assert set(result.unchecked) == {"pytorch-rocm"} and set(result.failed) == {"tflite-cpu"}
    assert "tf-rocm" in result.resolved and len(result.resolved) == len(sets) - 2
    kw = next(c[3] for c in calls if c[0] == "pytorch-cpu")
    assert kw["extra_index_urls"] == ("https://download.pytorch.org/whl/cpu",) and kw["isolated"] is True
    entries = lock_mod.lock_entries(sets, result, previous={})
    assert entries["pytorch-rocm"]["unchecked"].startswith("pytorch-rocm: unchecked")
    assert entries["tf-rocm"]["resolved"][1] == {"name": "numpy", "version": "1.26.4", "sha256": "ab" * 32,
                                                  "file": "y.whl", "url": "https://x/y.whl"}
    # a later run that cannot reach the index keeps the earlier resolution made for the same inputs
    earlier = dict(entries["tf-rocm"])
    again = lock_mod.lock_entries(sets, lock_mod.LockResult(unchecked={"tf-rocm": "x"}), {"tf-rocm": earlier})
    assert again["tf-rocm"] == earlier
    with pytest.raises(Exception, match="no supported image tf-tpu"):
        lock_mod.image_sets(spec, ["tf-tpu"])


def test_lock_file_keeps_artifacts_and_images_apart(tmp_path):
    spec = load_spec()
    lockfile = LockFile(tmp_path / "images.lock.yaml")
    lockfile.record_images({"tf-rocm": {"base": "b", "resolved": []}})
    artifact = spec.backend("resnet50", "onnxruntime").artifact
    lockfile.record(artifact, artifact.md5, "cd" * 32, 10)
    raw = yaml.safe_load((tmp_path / "images.lock.yaml").read_text())
    assert raw["images"] == {"tf-rocm": {"base": "b", "resolved": []}}
    assert raw["artifacts"][artifact.url]["sha256"] == "cd" * 32
    lockfile.record_images({"tf-cpu": {"base": "c"}})
    assert LockFile(tmp_path / "images.lock.yaml").entries[artifact.url]["size"] == 10


def test_lock_command_writes_the_lock_file_and_fails_on_unresolvable(monkeypatch, tmp_path):
    spec_dir = tmp_path / "repo"
    spec_dir.mkdir()
    (spec_dir / "images.yaml").write_text(DEFAULT_SPEC.read_text())
    monkeypatch.setattr(resolve, "resolve", _fake_resolver([]))
    monkeypatch.setattr(lock_mod.resolver, "resolve", _fake_resolver([]))
    built = []  # the source-only pins are built for real by `.ci/run`'s lock --check
    monkeypatch.setattr(lock_mod, "source_wheels", lambda spec, sets, dest, *a, **k: built.append(dest) or {})
    env = {"MLPERF_DOCKER_CONFIG": str(tmp_path / "none.yaml")}
    proc = cli("lock", "--spec", spec_dir / "images.yaml", "--cache", tmp_path / "cache", "-i", "tf-rocm",
               "-i", "pytorch-rocm", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "1 resolved, 1 unchecked, 0 failed" in proc.stdout and "unchecked (index not reachable from here): pytorch-rocm" in proc.stdout
    images = yaml.safe_load((spec_dir / "images.lock.yaml").read_text())["images"]
    assert images["tf-rocm"]["python"] == "3.10" and images["pytorch-rocm"]["unchecked"]
    proc = cli("lock", "--spec", spec_dir / "images.yaml", "--cache", tmp_path / "cache", "--check", env=env)
    assert proc.returncode == 6 and proc.stderr.strip().splitlines()[-1].startswith(
        "error: 1 image(s) do not resolve on their base: tflite-cpu")
    assert len(built) == 2
    proc = cli("lock", "--spec", spec_dir / "images.yaml", "-i", "nope-cpu", env=env)
    assert proc.returncode == 2 and "no supported image nope-cpu" in proc.stderr


def test_source_only_pins_that_cannot_be_built_leave_their_images_unchecked(tmp_path):
    """rouge-score is published as source only: pip's binary-only resolution cannot see it, so lock builds
    it first. Where its index cannot be reached (a closed port here), the images needing it are unchecked
    by name and the others are not touched."""
    spec = load_spec()
    sets = lock_mod.image_sets(spec, ["pytorch-cuda", "onnxruntime-cuda"])
    assert "rouge-score==0.1.2" in next(s for s in sets if s.name == "pytorch-cuda").requirements
    unchecked = lock_mod.source_wheels(spec, sets, tmp_path, index_url="http://127.0.0.1:9/simple",
                                       log=lambda line: None)
    assert list(unchecked) == ["pytorch-cuda"]
    assert unchecked["pytorch-cuda"].startswith("pytorch-cuda: unchecked, building rouge-score==0.1.2 from source failed")
    result = lock_mod.lock(sets, resolve=_fake_resolver([]), log=lambda line: None, unchecked=unchecked)
    assert set(result.unchecked) == {"pytorch-cuda"}
    assert set(result.resolved) == {"onnxruntime-cuda", "onnxruntime-cuda-converter"}


def test_bfloat16_is_supported_for_pytorch_only_and_reaches_the_harness(tmp_path):
    spec = load_spec()
    assert spec.check("pytorch", "cpu", "bert-99", "bfloat16").supported
    assert not spec.check("onnxruntime", "cpu", "resnet50", "bfloat16").supported
    proc = cli("run", "--variation", "_pytorch,_cpu,_resnet50,_bfloat16", "--dry-run", "--output_dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "pytorch-cpu:resnet50-bfloat16-standin" in proc.stdout and "--precision bfloat16" in proc.stdout
    proc = cli("run", "--variation", "_onnxruntime,_cpu,_resnet50,_bfloat16", "--dry-run", "--output_dir", tmp_path)
    assert proc.returncode == 2 and "published in fp32 only" in proc.stderr
