"""ncnn on the host: the build-time converter (pnnx's executable from the pnnx wheel, plus the
layer rewrite) on the resnet50 ONNX stand-in, and the ncnn backend's answers against
onnxruntime's on the same weights. Needs the ncnn and pnnx wheels (pyproject's test extras)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlperf_harness.backends import ncnn_convert

HARNESS = Path(__file__).resolve().parents[2] / "harness"


def test_rewrite_replaces_argmax_by_a_noop_keeping_blobs_and_counts():
    param = ("7767517\n2 3\nInput in0 0 1 in0\n"
             "ArgMax                   ArgMax_4                 1 1 4 out0 0=1 1=0\n")
    lines = ncnn_convert.rewrite(param).splitlines()
    assert lines[:3] == ["7767517", "2 3", "Input in0 0 1 in0"]
    assert lines[3].split() == ["Noop", "ArgMax_4", "1", "1", "4", "out0"]


def test_converter_refuses_a_folder_without_onnx(tmp_path):
    proc = subprocess.run([sys.executable, str(HARNESS / "mlperf_harness/backends/ncnn_convert.py"),
                           str(tmp_path), str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: no .onnx model in {tmp_path}"
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def converted(standin, tmp_path_factory):
    if importlib.util.find_spec("pnnx") is None or importlib.util.find_spec("ncnn") is None:
        pytest.fail("the ncnn and pnnx wheels are test dependencies (pyproject's test extras)")
    out = tmp_path_factory.mktemp("ncnn")
    # run as the image's convert stage does: the script alone, by path
    proc = subprocess.run([sys.executable, str(HARNESS / "mlperf_harness/backends/ncnn_convert.py"),
                           str(Path(standin["model_path"]).parent), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["resnet50_v1.ncnn.bin", "resnet50_v1.ncnn.param"]
    return out / "resnet50_v1.ncnn.param"


def test_ncnn_answers_as_onnxruntime_on_the_same_weights(standin, converted):
    import onnxruntime as ort

    from mlperf_harness.backends import create_backend
    from mlperf_harness.models.resnet50.dataset import preprocess

    backend = create_backend("ncnn", str(converted), threads=1, input_names=("input_tensor:0",),
                             outputs=("ArgMax:0", "softmax_tensor:0"),
                             output_names=("ArgMax:0", "softmax_tensor:0"))
    assert backend.describe().startswith("ncnn 1.0.20261020, device: cpu")
    images = sorted(Path(standin["dataset_path"]).glob("*.JPEG"))[:6]
    batch = np.stack([preprocess(p) for p in images])
    classes, scores = backend.run(batch)
    session = ort.InferenceSession(standin["model_path"], providers=["CPUExecutionProvider"])
    want_classes, want_scores = session.run(["ArgMax:0", "softmax_tensor:0"], {"input_tensor:0": batch})
    assert classes.tolist() == want_classes.tolist()
    np.testing.assert_allclose(scores, want_scores, rtol=1e-2, atol=1e-5)  # ncnn's x86 kernels round differently


def test_ncnn_refuses_a_param_without_its_bin(converted, tmp_path):
    from mlperf_harness.backends import create_backend
    from mlperf_harness.errors import HarnessError

    lone = tmp_path / converted.name
    lone.write_bytes(converted.read_bytes())
    with pytest.raises(HarnessError, match=r"ncnn needs the weights resnet50_v1\.ncnn\.bin beside"):
        create_backend("ncnn", str(lone), input_names=("input_tensor:0",), outputs=("ArgMax:0",))
