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


@pytest.fixture(scope="session")
def bert_standin(tmp_path_factory):
    """The bert stand-in (60 questions), with both model formats."""
    from mlperf_harness.models.bert import standin as bert

    out = tmp_path_factory.mktemp("bert")
    info = bert.generate(out, backend="onnxruntime")
    info["root"] = out
    info["models"] = {"onnxruntime": Path(info["model_path"])}
    if not _installed("torch"):
        return info
    info["models"]["pytorch"] = bert.export_model(out / "model" / bert.MODEL_FILES["pytorch"],
                                                  "pytorch")
    return info
