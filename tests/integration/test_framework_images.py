"""Every CPU image of the matrix, built from the local base and run from `mlperf-docker run` in every
scenario and mode: resnet50 on pytorch, tensorflow and tflite (onnxruntime is test_cpu_image.py), and
bert-99 on onnxruntime and pytorch. The onnxruntime, tf and tflite stand-ins share one set of weights, so
each must reproduce the stand-in's known accuracy exactly: that is the cross-backend agreement, in
containers; pytorch's is a state_dict of the reference architecture with its own known accuracy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from integration_support import REPOSITORY, mlperf_docker

pytestmark = pytest.mark.docker

SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream")


def build_and_run(cli_env, tmp_path, variation: str, *extra: str) -> Path:
    proc = mlperf_docker(cli_env, "build", "--variation", variation)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out_dir = tmp_path / "results"
    proc = mlperf_docker(cli_env, "run", "--variation", variation, "--scenario", ",".join(SCENARIOS),
                         "--mode", "both", "--output_dir", str(out_dir), "--test_query_count", "100", *extra)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [run_dir] = out_dir.iterdir()
    return run_dir


def check_layout(run_dir: Path, model: str) -> dict[str, str]:
    accuracy = {}
    for scenario in SCENARIOS:
        [scenario_dir] = run_dir.glob(f"*/{model}/{scenario}")
        perf = scenario_dir / "performance" / "run_1"
        summary = (perf / "mlperf_log_summary.txt").read_text()
        assert re.search(rf"^Scenario : {scenario}$", summary, re.M)
        assert (perf / "mlperf_log_detail.txt").is_file() and (scenario_dir / "user.conf").is_file()
        acc = scenario_dir / "accuracy"
        assert (acc / "mlperf_log_accuracy.json").stat().st_size > 0
        accuracy[scenario] = (acc / "accuracy.txt").read_text().strip()
    return accuracy


def expected(cache_dir: Path, name: str) -> dict:
    [path] = cache_dir.glob(f"standins/{name}-*/expected.json")
    return json.loads(path.read_text())


@pytest.mark.parametrize("framework", ["pytorch", "tf", "tflite"])
def test_resnet50_on_every_backend_matches_the_stand_in(built_image, cli_env, cache_dir, tmp_path, framework):
    run_dir = build_and_run(cli_env, tmp_path, f"_{framework},_cpu,_resnet50")
    # pytorch's stand-in is a tiny torchvision ResNet state_dict with its own dataset and known top-1
    known = expected(cache_dir, "resnet50_pytorch" if framework == "pytorch" else "resnet50")
    line = f"accuracy={known['top1']:.3f}%, good={known['good']}, total={known['total']}"
    for scenario, text in check_layout(run_dir, "resnet50").items():
        assert line in text, (framework, scenario, text)
    assert run_dir.glob(f"*-reference-cpu-{framework}-v*")


@pytest.mark.parametrize("framework", ["onnxruntime", "pytorch"])
def test_bert_99_on_onnxruntime_and_pytorch(built_image, cli_env, cache_dir, tmp_path, framework):
    run_dir = build_and_run(cli_env, tmp_path, f"_{framework},_cpu,_bert-99", "--count", "40")
    for scenario, text in check_layout(run_dir, "bert-99").items():
        scores = json.loads(text)
        assert set(scores) >= {"exact_match", "f1"}, text
        assert 0 < scores["exact_match"] <= scores["f1"] <= 100, (framework, scenario, text)


def test_bert_full_set_gives_the_known_scores(built_image, cli_env, cache_dir, tmp_path):
    variation = "_onnxruntime,_cpu,_bert-99.9"
    assert mlperf_docker(cli_env, "build", "--variation", variation).returncode == 0
    out_dir = tmp_path / "results"
    proc = mlperf_docker(cli_env, "run", "--variation", variation, "--output_dir", str(out_dir))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [accuracy] = out_dir.glob("*/*/bert-99.9/Offline/accuracy/accuracy.txt")
    scores = json.loads(accuracy.read_text())
    known = expected(cache_dir, "bert")
    assert scores["exact_match"] == pytest.approx(known["exact_match"], abs=1e-6)
    assert scores["f1"] == pytest.approx(known["f1"], abs=1e-6)
