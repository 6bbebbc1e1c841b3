"""Precisions in containers: int8 bert-99 on onnxruntime's CPU EP (the image carries the int8 stand-in,
the onnx stand-in quantized by onnxruntime's quantizer), built with the seed's `_quantized` alias and run
as `_int8`, in accuracy mode with the stand-in's known scores."""

from __future__ import annotations

import json

import pytest
from integration_support import mlperf_docker

pytestmark = pytest.mark.docker


def test_int8_bert_99_on_onnxruntime_cpu_gives_the_known_scores(built_image, cli_env, cache_dir, tmp_path):
    proc = mlperf_docker(cli_env, "build", "--variation", "_onnxruntime,_cpu,_bert-99,_quantized")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "onnxruntime-cpu:bert-99-int8-standin" in proc.stdout + proc.stderr
    out_dir = tmp_path / "results"
    proc = mlperf_docker(cli_env, "run", "--variation", "_onnxruntime,_cpu,_bert-99,_int8", "--mode", "accuracy",
                         "--output_dir", str(out_dir))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "precision: int8" in proc.stdout
    [accuracy] = out_dir.glob("*/*/bert-99/Offline/accuracy/accuracy.txt")
    scores = json.loads(accuracy.read_text())
    [expected] = cache_dir.glob("standins/bert_int8-*/expected.json")
    known = json.loads(expected.read_text())
    assert known["precision"] == "int8" and known["questions"] == 60
    assert scores["exact_match"] == pytest.approx(known["exact_match"], abs=1e-6)
    assert scores["f1"] == pytest.approx(known["f1"], abs=1e-6)
