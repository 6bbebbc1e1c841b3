"""retinanet and 3d-unet in images.yaml: their own pinned packages, their scenarios, their datasets."""

from __future__ import annotations

import json
import pickle

from launcher.build import wheelhouse
from launcher.spec.model import load_spec
from unit_support import cli


def test_model_requirements_are_pinned_and_owned_once():
    spec = load_spec()
    assert spec.models["retinanet"].requirements == ["pycocotools==2.0.11"]
    assert spec.models["3d-unet-99"].requirements == spec.models["3d-unet-99.9"].requirements
    per_model = wheelhouse.model_requirements(spec, "onnxruntime", "cpu")
    assert per_model == {"retinanet": ["pycocotools==2.0.11"], "3d-unet-99": ["scipy==1.15.3"]}
    assert wheelhouse.model_requirements(spec, "tf", "cpu") == {}
    # The shared environment stays the harness's and the framework's.
    assert not {"pycocotools==2.0.11", "scipy==1.15.3"} & set(wheelhouse.requirements(spec, "pytorch", "cpu"))
    assert spec.deps_owners(["resnet50", "3d-unet-99", "3d-unet-99.9"]) == {
        "resnet50": None, "3d-unet-99": "3d-unet-99", "3d-unet-99.9": "3d-unet-99"}


def test_unpinned_model_requirement_is_refused(tmp_path):
    import pytest

    from launcher.errors import SpecError

    bad = tmp_path / "images.yaml"
    bad.write_text(load_spec().path.read_text().replace("- pycocotools==2.0.11", "- pycocotools>=2"))
    with pytest.raises(SpecError, match=r"models\.retinanet\.requirements.*pinned requirement"):
        load_spec(bad)


def test_3d_unet_refuses_server_and_multistream_in_one_line(tmp_path):
    for flags in (["--scenario", "Server"], ["-v", "_onnxruntime,_cpu,_3d-unet-99.9,_multistream"]):
        variation = [] if flags[0] == "-v" else ["-v", "_onnxruntime,_cpu,_3d-unet-99"]
        proc = cli("run", "--dry-run", *variation, *flags, "--output_dir", tmp_path)
        assert proc.returncode == 2
        scenario = "Server" if flags[0] == "--scenario" else "MultiStream"
        assert proc.stderr.strip().splitlines() == [
            f"error: 3d-unet-99{'.9' if flags[0] == '-v' else ''} runs SingleStream and Offline only "
            f"(as the reference); not {scenario}"]
    ok = cli("run", "--dry-run", "-v", "_pytorch,_cpu,_3d-unet-99", "--scenario", "SingleStream,Offline",
             "--output_dir", tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "--model_path /opt/mlperf/model/3dunet_kits19_pytorch.ptc" in ok.stdout


def test_dataset_path_in_the_reference_layout(tmp_path):
    openimages = tmp_path / "openimages"
    (openimages / "annotations").mkdir(parents=True)
    (openimages / "validation" / "data").mkdir(parents=True)
    (openimages / "annotations" / "openimages-mlperf.json").write_text(json.dumps({"images": []}))
    ok = cli("run", "--dry-run", "-v", "_onnxruntime,_cpu,_retinanet", "--real", "--dataset_path", openimages,
             "--output_dir", tmp_path / "o")
    assert ok.returncode == 0, ok.stderr
    assert f"source={openimages},target=/opt/mlperf/user-dataset,readonly" in ok.stdout
    assert "--dataset_path /opt/mlperf/user-dataset" in ok.stdout
    kits = tmp_path / "kits19"
    kits.mkdir()
    bad = cli("run", "--dry-run", "-v", "_onnxruntime,_cpu,_3d-unet-99", "--dataset_path", kits,
              "--output_dir", tmp_path / "o")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"error: --dataset_path {kits}: expected a kits19 folder holding preprocessed_files.pkl"]
    (kits / "preprocessed_files.pkl").write_bytes(pickle.dumps({"file_list": [], "cases": {}}))
    good = cli("run", "--dry-run", "-v", "_onnxruntime,_cpu,_3d-unet-99", "--dataset_path", kits,
               "--output_dir", tmp_path / "o")
    assert good.returncode == 0, good.stderr


def test_context_keeps_model_wheels_out_of_the_shared_wheels(tmp_path):
    from launcher.build import context

    wheels = tmp_path / "wheelhouse"
    (wheels / wheelhouse.MODEL_WHEELS).mkdir(parents=True)
    (wheels / "requirements.txt").write_text("numpy==2.4.6\n")
    (wheels / "numpy-2.4.6-cp311-none-any.whl").write_text("x")
    (wheels / wheelhouse.STAMP).write_text("{}")
    (wheels / wheelhouse.MODEL_WHEELS / "requirements-retinanet.txt").write_text("pycocotools==2.0.11\n")
    (wheels / wheelhouse.MODEL_WHEELS / "pycocotools-2.0.11-cp311-cp311-any.whl").write_text("y")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    ctx = context.stage(tmp_path / "cache", dockerfile, wheels, "retinanet", [], "openimages", None)
    assert sorted(p.name for p in (ctx / "wheels").iterdir()) == [
        "numpy-2.4.6-cp311-none-any.whl", "requirements.txt"]
    assert sorted(p.name for p in (ctx / "model-wheels").iterdir()) == [
        "pycocotools-2.0.11-cp311-cp311-any.whl", "requirements-retinanet.txt"]
    plain = tmp_path / "plain"
    plain.mkdir()
    ctx = context.stage(tmp_path / "cache", dockerfile, plain, "resnet50", [], "imagenet", None)
    assert (ctx / "model-wheels").is_dir() and not any((ctx / "model-wheels").iterdir())
