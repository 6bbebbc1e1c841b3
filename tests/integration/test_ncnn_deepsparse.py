"""The ncnn and deepsparse images, built from the local base and run from `mlperf-docker run` with no
network: resnet50 on ncnn in every scenario (the ONNX stand-in converted to ncnn at build time, so
the same weights give the same known top-1), bert-99 on deepsparse in every scenario (the onnxruntime
stand-in's ONNX, compiled by the engine in the container: the known EM/F1), and resnet50 on deepsparse
(its framework layer shared with bert's) in Offline, both modes. Few samples and short runs keep the
CI cost small.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from integration_support import mlperf_docker

pytestmark = pytest.mark.docker

SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream")
COUNT = 40  # the resnet50 stand-in's first 40 samples: round(40 * 0.75) = 30 correct


def build_and_run(cli_env, out_dir: Path, variation: str, *flags: str) -> Path:
    proc = mlperf_docker(cli_env, "build", "--variation", variation)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = mlperf_docker(cli_env, "run", "--variation", variation, "--output_dir", str(out_dir), *flags)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [run_dir] = out_dir.iterdir()
    return run_dir


def expected(cache_dir: Path, name: str) -> dict:
    [path] = cache_dir.glob(f"standins/{name}-*/expected.json")
    return json.loads(path.read_text())


def test_resnet50_on_ncnn_in_every_scenario(cli_env, tmp_path):
    run_dir = build_and_run(cli_env, tmp_path / "results", "_ncnn,_cpu,_resnet50",
                            "--scenario", ",".join(SCENARIOS), "--mode", "both", "--count", str(COUNT),
                            "--test_query_count", "16")
    for scenario in SCENARIOS:
        [scenario_dir] = run_dir.glob(f"*/resnet50/{scenario}")
        summary = (scenario_dir / "performance" / "run_1" / "mlperf_log_summary.txt").read_text()
        assert re.search(rf"^Scenario : {scenario}$", summary, re.M)
        text = (scenario_dir / "accuracy" / "accuracy.txt").read_text()
        assert f"accuracy=75.000%, good=30, total={COUNT}" in text, (scenario, text)
    [measurements] = run_dir.glob("*/resnet50/Offline/measurements.json")
    assert json.loads(measurements.read_text())["starting_weights_filename"] == "resnet50_v1.ncnn.param"


def test_deepsparse_runs_bert_and_resnet50_with_no_network(cli_env, cache_dir, tmp_path):
    """bert-99 in every scenario (accuracy: the known EM/F1 in each), one container; resnet50 (its
    framework layer shared) in Offline (the padded last batch), both modes."""
    proc = mlperf_docker(cli_env, "run", "--variation", "_deepsparse,_cpu,_bert-99", "--dry-run")
    assert proc.returncode == 0 and "--network none" in proc.stdout, proc.stdout + proc.stderr
    run_dir = build_and_run(cli_env, tmp_path / "bert", "_deepsparse,_cpu,_bert-99",
                            "--scenario", ",".join(SCENARIOS), "--mode", "accuracy")
    known = expected(cache_dir, "bert")
    for scenario in SCENARIOS:
        [accuracy] = run_dir.glob(f"*/bert-99/{scenario}/accuracy/accuracy.txt")
        scores = json.loads(accuracy.read_text())
        assert scores["exact_match"] == pytest.approx(known["exact_match"], abs=1e-6), scenario
        assert scores["f1"] == pytest.approx(known["f1"], abs=1e-6), scenario
        [detail] = run_dir.glob(f"*/bert-99/{scenario}/accuracy/mlperf_log_detail.txt")
        assert f'"key": "effective_scenario", "value": "{scenario}"' in detail.read_text()
    run_dir = build_and_run(cli_env, tmp_path / "resnet50", "_deepsparse,_cpu,_resnet50", "--mode", "both",
                            "--count", str(COUNT), "--test_query_count", "16")  # Offline
    [accuracy] = run_dir.glob("*/resnet50/Offline/accuracy/accuracy.txt")
    assert f"accuracy=75.000%, good=30, total={COUNT}" in accuracy.read_text()
    [summary] = run_dir.glob("*/resnet50/Offline/performance/run_1/mlperf_log_summary.txt")
    assert re.search(r"^Samples per second\s*:\s*[0-9.]+$", summary.read_text(), re.M)
