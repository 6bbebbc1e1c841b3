"""float16 ONNX conversion (mlperf_harness/convert_fp16.py) checked on the CPU: the converted stand-ins load
in onnxruntime's CPU EP, run in half inside (float16 weights), keep float32/int64 inputs and outputs, and
give the fp32 stand-ins' known top-1 and EM/F1."""

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxconverter_common")

from mlperf_harness.backends import create_backend  # noqa: E402
from mlperf_harness.convert_fp16 import convert  # noqa: E402
from mlperf_harness.models import get_model  # noqa: E402


def _half_weights(path) -> bool:
    model = onnx.load(str(path))
    floats = [t.data_type for t in model.graph.initializer if t.data_type in (1, 10)]  # FLOAT, FLOAT16
    return bool(floats) and set(floats) == {10}


def _backend(path, model):
    code = get_model(model)
    return create_backend("onnxruntime", str(path), input_names=code.input_names, outputs=code.outputs,
                          output_names=code.output_names)


def test_resnet50_standin_in_float16_keeps_its_top1(tmp_path):
    from mlperf_harness.models.resnet50 import standin
    from mlperf_harness.models.resnet50.dataset import ImagenetDataset

    info = standin.generate(tmp_path / "fp32", n_samples=40)
    half = convert(info["model_path"], tmp_path / "half.onnx")
    assert _half_weights(half)
    ds = ImagenetDataset.open(info["dataset_path"])
    (argmax,) = _backend(half, "resnet50").run(np.stack([ds.load(i) for i in range(len(ds))]))
    assert int(((argmax - 1) == np.array(ds.labels)).sum()) == info["good"]


def test_bert_standin_in_float16_keeps_its_scores(tmp_path):
    from mlperf_harness.models.bert import accuracy as acc
    from mlperf_harness.models.bert import dataset as squad
    from mlperf_harness.models.bert import standin

    info = standin.generate(tmp_path / "fp32")
    half = convert(info["model_path"], tmp_path / "half.onnx")
    assert _half_weights(half)
    session = ort.InferenceSession(str(half), providers=["CPUExecutionProvider"])
    assert [o.type for o in session.get_outputs()] == ["tensor(float)"] * 2  # keep_io_types
    ds = squad.SquadDataset.open(info["dataset_path"])
    start, end = _backend(half, "bert-99").run(tuple(ds.inputs[:, k] for k in range(3)))
    em, f1 = acc.score_predictions(ds.examples, acc.predict(ds, dict(enumerate(np.stack([start, end], -1)))))
    assert (em, f1) == (pytest.approx(info["exact_match"]), pytest.approx(info["f1"]))
