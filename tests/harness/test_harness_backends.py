"""Every backend x every scenario x both modes on the resnet50 stand-ins, the
harness run as the launcher runs it (``python -m mlperf_harness``), and the
four backends' answers compared.

The four harness runs (8 LoadGen tests each) are started together and
collected by the first test that needs them, so they overlap.
"""

import json
import re

import numpy as np
import pytest

from harness_test_support import finish, mllog, start_harness, test_folder

BACKENDS = ("onnxruntime", "pytorch", "tf", "tflite")
SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream")
QUERIES = 64
MAX_BATCH = 8


@pytest.fixture(scope="module")
def matrix(standin, backend_models, tmp_path_factory):
    started = {}
    for backend in BACKENDS:
        if backend not in backend_models:
            continue
        out = tmp_path_factory.mktemp(f"matrix-{backend}")
        args = ["--model", "resnet50", "--backend", backend, "--device", "cpu",
                "--model-path", backend_models[backend], "--dataset-path", standin["dataset_path"],
                "--output-dir", out, "--system", "box", "--scenario", ",".join(SCENARIOS),
                "--mode", "both", "--test-query-count", QUERIES, "--max-batchsize", MAX_BATCH]
        started[backend] = (start_harness(args, cwd=out), out)
    return {backend: (finish(proc), out) for backend, (proc, out) in started.items()}


def _run(matrix, backend):
    if backend not in matrix:
        pytest.skip(f"the {backend} framework is not installed on this host")
    return matrix[backend]


@pytest.mark.parametrize("backend", BACKENDS)
def test_runs_every_scenario_and_mode(matrix, backend):
    proc, _ = _run(matrix, backend)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert not [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    lines = proc.stdout.splitlines()
    for scenario in SCENARIOS:
        assert f"{scenario} accuracy: accuracy=75.000%, good=45, total=60" in lines, proc.stdout
        perf = [line for line in lines if line.startswith(f"{scenario} performance: ")]
        assert len(perf) == 1 and re.search(r", result (VALID|INVALID)$", perf[0])
    described = [line for line in lines if line.startswith("backend for ")]
    assert len(described) == 8
    name = {"tf": "tensorflow"}.get(backend, backend)
    assert all(f": {name}" in line for line in described), described


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_logs_of_each_test(matrix, standin, backend, scenario):
    proc, out = _run(matrix, backend)
    assert proc.returncode == 0
    expected = json.loads((standin["root"] / "expected.json").read_text())
    for mode, loadgen_mode in (("accuracy", "AccuracyOnly"), ("performance", "PerformanceOnly")):
        folder = test_folder(out, "box", "resnet50", scenario, mode)
        errors = [line for line in (folder / "mlperf_log_detail.txt").read_text().splitlines()
                  if '"is_error": true' in line]
        # A test-style Server run stops at max_query_count, which LoadGen logs as an error_runtime.
        assert all('"error_runtime"' in e and "Max query count reached" in e for e in errors), errors
        log = mllog(folder / "mlperf_log_detail.txt")
        assert log["effective_scenario"] == scenario
        assert log["effective_test_mode"] == loadgen_mode
        assert log["effective_performance_sample_count"] == 60
        assert (folder / "mlperf_log_summary.txt").is_file()
        if mode == "accuracy":
            text = (folder / "accuracy.txt").read_text()
            assert text == (f"accuracy={expected['top1']:.3f}%, good={expected['good']}, "
                            f"total={expected['total']}\n")
        elif scenario == "Offline":
            assert log["effective_samples_per_query"] == QUERIES
        else:
            assert log["effective_min_query_count"] == log["effective_max_query_count"] == QUERIES
    stats = re.findall(rf"^sut: (\d+) samples in (\d+) batches, largest batch (\d+) "
                       rf"\(max-batchsize (\d+)\) for {scenario} (\w+)$", proc.stdout, re.M)
    assert len(stats) == 2
    for samples, batches, largest, limit, _mode in stats:
        assert int(largest) <= int(limit) == (1 if scenario == "SingleStream" else MAX_BATCH)
    if scenario == "Offline":
        # 60 samples in accuracy mode: 7 batches of 8 and one of 4.
        assert ("60", "8", "8", str(MAX_BATCH), "accuracy") in stats


def _predictions(out):
    folder = test_folder(out, "box", "resnet50", "Offline", "accuracy")
    entries = json.loads((folder / "mlperf_log_accuracy.json").read_text())
    return {e["qsl_idx"]: int(np.frombuffer(bytes.fromhex(e["data"]), "<i4")[0]) for e in entries}


def test_backends_agree(matrix):
    """The same weights in four formats: identical top-1 predictions on at least
    99% of the samples (here: all of them) and identical accuracy.txt files."""
    if len(matrix) < len(BACKENDS):
        pytest.skip(f"only {', '.join(matrix)} installed on this host")
    assert all(matrix[b][0].returncode == 0 for b in BACKENDS)
    reference = _predictions(matrix["onnxruntime"][1])
    assert sorted(reference) == list(range(60))
    for backend in BACKENDS[1:]:
        got = _predictions(matrix[backend][1])
        same = sum(got[i] == reference[i] for i in reference)
        assert same / len(reference) >= 0.99, (backend, same)
    texts = {(test_folder(matrix[b][1], "box", "resnet50", s, "accuracy") / "accuracy.txt").read_text()
             for b in BACKENDS for s in SCENARIOS}
    assert len(texts) == 1


def test_user_conf_and_measurements(matrix):
    for backend in matrix:
        _, out = matrix[backend]
        for scenario in SCENARIOS:
            base = out / "box" / "resnet50" / scenario
            conf = (base / "user.conf").read_text()
            assert f"resnet50.{scenario}.min_query_count = {QUERIES}" in conf
            assert f"# harness: backend={backend} device=cpu max_batchsize={MAX_BATCH}" in conf
            measurements = json.loads((base / "measurements.json").read_text())
            assert measurements["starting_weights_filename"] == \
                {"onnxruntime": "resnet50_v1.onnx", "pytorch": "resnet50-19c8e357.pth",
                 "tf": "resnet50_v1.pb", "tflite": "resnet50_v1.tflite"}[backend]
