"""float16 ONNX conversion (mlperf_harness/convert_fp16.py) checked on the CPU: the converted stand-ins load
in onnxruntime's CPU EP, run in half inside (float16 weights), keep float32/int64 inputs and outputs, and
give the fp32 stand-ins' known top-1 and EM/F1."""

from pathlib import Path

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


def _backend(path, model, precision="float16"):
    code = get_model(model)
    return create_backend("onnxruntime", str(path), input_names=code.input_names, outputs=code.outputs,
                          output_names=code.output_names, precision=precision)


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


def test_the_images_converter_converts_for_float16_only_and_the_backend_checks_the_mark(tmp_path):
    """The cuda/rocm images' converter stage (`convert_fp16.py SOURCE OUT --precision P`): float16 converts
    every .onnx file (marked as float16), any other precision copies the folder as it is; the backend runs
    `float16` only on a marked model, so an fp32 file is never reported as a float16 run."""
    from mlperf_harness.convert_fp16 import main
    from mlperf_harness.errors import HarnessError
    from mlperf_harness.models.resnet50 import standin

    info = standin.generate(tmp_path / "fp32", n_samples=8)
    source = Path(info["model_path"]).parent
    assert main([str(source), str(tmp_path / "copy"), "--precision", "fp32"]) == 0
    copied = tmp_path / "copy" / Path(info["model_path"]).name
    assert copied.read_bytes() == Path(info["model_path"]).read_bytes()
    assert main([str(source), str(tmp_path / "half"), "--precision", "float16"]) == 0
    half = tmp_path / "half" / copied.name
    assert _half_weights(half) and _backend(half, "resnet50").precision == "float16"
    with pytest.raises(HarnessError, match="is not a converted float16 model"):
        _backend(copied, "resnet50")
    assert _backend(copied, "resnet50", "fp32").precision == "fp32"
    assert main([str(tmp_path), str(tmp_path / "y")]) == 2  # no .onnx model in the folder
