"""The int8 bert stand-in (host only; needs onnxruntime): the onnxruntime stand-in (standin.py) with its
inputs named as the reference's quantized model names them (bert_large_v1_1_fake_quant.onnx: input_ids,
attention_mask, token_type_ids), its MatMul quantized to int8 by onnxruntime.quantization
(quantize_dynamic: DynamicQuantizeLinear + MatMulInteger), saved under the reference's file name.

Its known accuracy is the fp32 stand-in's: the int8 model scores the same exact match and F1 (checked by
tests/harness/test_int8.py with the real SQuAD metric code).

    python -m mlperf_harness.models.bert.standin_int8 OUT_DIR
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Dict

import onnx

from mlperf_harness.models.bert import standin
from mlperf_harness.standin_cli import main as standin_main

MODEL_FILE = "bert_large_v1_1_fake_quant.onnx"
# the fp32 stand-in's input -> the quantized reference model's name for it
RENAMED = {"input_mask": "attention_mask", "segment_ids": "token_type_ids"}


def quantize(src: Path, dst: Path) -> Path:
    """``src`` (the fp32 onnx stand-in) with the reference int8 model's input names, quantized to ``dst``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(src))
    for value in model.graph.input:
        value.name = RENAMED.get(value.name, value.name)
    for node in model.graph.node:
        node.input[:] = [RENAMED.get(n, n) for n in node.input]
    with tempfile.TemporaryDirectory() as tmp:
        renamed = Path(tmp) / "renamed.onnx"
        onnx.save(model, str(renamed))
        quantize_dynamic(str(renamed), str(dst), weight_type=QuantType.QInt8)
    return dst


def generate(out_dir: Path, n_questions: int = 60, exact_fraction: float = 0.75, seed: int = 0,
             backend: str = "onnxruntime") -> Dict:
    """Write model/bert_large_v1_1_fake_quant.onnx, dataset/ and expected.json under ``out_dir``."""
    if backend != "onnxruntime":
        raise ValueError(f"unknown backend {backend!r}; the int8 stand-in is for onnxruntime")
    out_dir = Path(out_dir)
    info = standin.generate(out_dir, n_questions, exact_fraction, seed, backend="onnxruntime")
    fp32 = Path(info["model_path"])
    model_path = quantize(fp32, fp32.with_name(MODEL_FILE))
    fp32.unlink()
    expected = json.loads((out_dir / "expected.json").read_text(encoding="utf-8"))
    expected.update(generator="bert_int8", precision="int8")
    (out_dir / "expected.json").write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
    return {**info, **expected, "model_path": str(model_path)}


def main(argv=None) -> int:
    return standin_main("python -m mlperf_harness.models.bert.standin_int8", "Write the int8 bert stand-in.",
                        {"onnxruntime": MODEL_FILE}, ("--questions", 60, "synthetic questions"),
                        ("--exact", 0.75, "fraction answered exactly"), generate, argv)


if __name__ == "__main__":
    sys.exit(main())
