"""Tests of the in-container harness (harness/mlperf_harness) and the
stand-in generators; no GPU, no network, no docker."""

import sys
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]
for _path in (str(_REPO / "harness"), str(_REPO), str(Path(__file__).resolve().parent)):
    if _path not in sys.path:
        sys.path.insert(0, _path)


@pytest.fixture(scope="session")
def standin(tmp_path_factory):
    """A 60-sample resnet50 stand-in (onnxruntime model + dataset + expected.json)."""
    from mlperf_harness.models.resnet50.standin import generate

    out = tmp_path_factory.mktemp("standin")
    info = generate(out, n_samples=60, top1_fraction=0.75, seed=0)
    info["root"] = out
    return info


def _installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# What exporting and running each backend's stand-in needs on the host.
BACKEND_NEEDS = {"onnxruntime": ("onnxruntime",), "pytorch": ("torch",), "tf": ("tensorflow",),
                 "tflite": ("tensorflow", "ai_edge_litert")}


@pytest.fixture(scope="session")
def backend_models(standin):
    """backend -> the resnet50 stand-in model in its format (same weights as the
    ONNX one; the dataset is the onnxruntime stand-in's, the same for all).
    Backends whose framework is not installed on the host are left out."""
    from mlperf_harness.models.resnet50.standin import MODEL_FILES, export_model

    models = {"onnxruntime": Path(standin["model_path"])}
    for backend in ("pytorch", "tf", "tflite"):
        if all(_installed(m) for m in BACKEND_NEEDS[backend]):
            models[backend] = export_model(Path(standin["root"]) / "model" / MODEL_FILES[backend],
                                           backend)
    return models


def _generated(tmp_path_factory, model: str) -> dict:
    """``model``'s stand-in generated with its defaults (onnxruntime), plus "root" and "models":
    backend -> model file, with the pytorch export when torch is installed."""
    import importlib

    generator = importlib.import_module(f"mlperf_harness.models.{model}.standin")
    out = tmp_path_factory.mktemp(model)
    info = generator.generate(out, backend="onnxruntime")
    info["root"] = out
    info["models"] = {"onnxruntime": Path(info["model_path"])}
    if _installed("torch"):
        info["models"]["pytorch"] = generator.export_model(
            out / "model" / generator.MODEL_FILES["pytorch"], "pytorch")
    return info


@pytest.fixture(scope="session")
def bert_standin(tmp_path_factory):
    """The bert stand-in (60 questions), with both model formats."""
    return _generated(tmp_path_factory, "bert")


@pytest.fixture(scope="session")
def model_spec_env(tmp_path_factory):
    """{"MLPERF_SPEC": path} of a model table that lists retinanet and 3d-unet with their
    datasets and backends, for harness runs; {} once images.yaml itself lists them."""
    import yaml

    spec = yaml.safe_load((_REPO / "images.yaml").read_text())
    entries = {"retinanet": ("retinanet", "openimages", 64),
               "3d-unet-99": ("3d-unet", "kits19", 43), "3d-unet-99.9": ("3d-unet", "kits19", 43)}
    if all(spec["models"].get(name, {}).get("backends") for name in entries):
        return {}
    for name, (key, dataset, count) in entries.items():
        spec["models"][name] = {"loadgen_key": key, "dataset": dataset,
                                "performance_sample_count": count,
                                "backends": {"onnxruntime": {}, "pytorch": {}}}
    path = tmp_path_factory.mktemp("spec") / "images.yaml"
    path.write_text(yaml.safe_dump(spec))
    return {"MLPERF_SPEC": str(path)}


@pytest.fixture(scope="session")
def retinanet_standin(tmp_path_factory):
    """The retinanet stand-in (16 images, mAP 75%), with both model formats."""
    return _generated(tmp_path_factory, "retinanet")


@pytest.fixture(scope="session")
def unet3d_standin(tmp_path_factory):
    """The 3d-unet stand-in (2 cases, DICE 1.0), with both model formats."""
    return _generated(tmp_path_factory, "unet3d")


@pytest.fixture(scope="session")
def dlrm_standin(tmp_path_factory):
    """The dlrm-v2 stand-in (16 samples of 64 rows, AUC 100%), pytorch only."""
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from mlperf_harness.models.dlrm_v2 import standin

    out = tmp_path_factory.mktemp("dlrm")
    info = standin.generate(out)
    info["root"] = out
    info["models"] = {"pytorch": Path(info["model_path"])}
    return info


@pytest.fixture(scope="session")
def rnnt_standin(tmp_path_factory):
    """The rnnt stand-in (8 tone-alphabet utterances, WER 0), pytorch only."""
    pytest.importorskip("torch")
    from mlperf_harness.models.rnnt import standin

    out = tmp_path_factory.mktemp("rnnt")
    info = standin.generate(out)
    info["root"] = out
    info["models"] = {"pytorch": Path(info["model_path"])}
    return info
