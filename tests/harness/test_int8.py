"""The int8 bert stand-in (models/bert/standin_int8.py): the onnx stand-in quantized by onnxruntime's own
quantizer, with the reference int8 model's input names; on onnxruntime's CPU EP it scores exactly what the
fp32 stand-in scores, by the real SQuAD metric code."""

import json
from pathlib import Path

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from mlperf_harness.backends import create_backend  # noqa: E402
from mlperf_harness.errors import HarnessError  # noqa: E402
from mlperf_harness.models import get_model  # noqa: E402
from mlperf_harness.models.bert import accuracy as acc  # noqa: E402
from mlperf_harness.models.bert import dataset as squad  # noqa: E402
from mlperf_harness.models.bert import standin, standin_int8  # noqa: E402


@pytest.fixture(scope="module")
def int8(tmp_path_factory):
    return standin_int8.generate(tmp_path_factory.mktemp("bert-int8"))


def _scores(backend, dataset_path):
    dataset = squad.SquadDataset.open(dataset_path)
    start, end = backend.run(tuple(dataset.inputs[:, k] for k in range(3)))
    return acc.score_predictions(dataset.examples, acc.predict(dataset, dict(enumerate(np.stack([start, end], -1)))))


def test_int8_standin_is_quantized_and_named_as_the_reference_model(int8):
    model = onnx.load(int8["model_path"])
    ops = {n.op_type for n in model.graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops and "MatMul" not in ops
    assert [i.name for i in model.graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    assert int8["model_path"].endswith("/bert_large_v1_1_fake_quant.onnx")
    expected = json.loads((Path(int8["model_path"]).parents[1] / "expected.json").read_text())
    assert expected["precision"] == "int8" and expected["generator"] == "bert_int8"


def test_int8_standin_scores_what_the_fp32_standin_scores(int8, tmp_path):
    code = get_model("bert-99")
    backend = create_backend("onnxruntime", int8["model_path"], precision="int8", input_names=code.input_names,
                             outputs=code.outputs, output_names=code.output_names, input_aliases=code.input_aliases)
    assert "precision: int8" in backend.describe()
    assert backend.input_names == ["input_ids", "attention_mask", "token_type_ids"]
    em, f1 = _scores(backend, int8["dataset_path"])
    fp32 = standin.generate(tmp_path / "fp32")  # independent: the fp32 stand-in's own known scores
    assert (em, f1) == (pytest.approx(fp32["exact_match"]), pytest.approx(fp32["f1"]))
    assert (em, f1) == (pytest.approx(int8["exact_match"]), pytest.approx(int8["f1"]))


def test_int8_model_without_the_aliases_is_one_clear_line(int8):
    code = get_model("bert-99")
    with pytest.raises(HarnessError, match="input\\(s\\) input_mask, segment_ids not in the model"):
        create_backend("onnxruntime", int8["model_path"], input_names=code.input_names, outputs=code.outputs,
                       output_names=code.output_names)
