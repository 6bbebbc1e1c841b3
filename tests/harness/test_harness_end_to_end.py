"""The harness as the launcher runs it: ``python -m mlperf_harness`` in a subprocess."""

import json
import re

import pytest

from harness_test_support import run_harness as _run


def _args(standin, out, *extra):
    return ["--model", "resnet50", "--backend", "onnxruntime", "--device", "cpu",
            "--model-path", standin["model_path"], "--dataset-path", standin["dataset_path"],
            "--output-dir", str(out), "--system", "testbox", *extra]


@pytest.fixture(scope="module")
def both_run(standin, tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    proc = _run(_args(standin, out, "--scenario", "offline,SingleStream", "--mode", "both",
                      "--test-query-count", "100", "--max-batchsize", "8"), cwd=out)
    return proc, out


def test_exit_and_stdout(both_run):
    proc, _ = both_run
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    for scenario in ("Offline", "SingleStream"):
        assert f"{scenario} accuracy: accuracy=75.000%, good=45, total=60" in lines
        perf = [line for line in lines if line.startswith(f"{scenario} performance: ")]
        assert len(perf) == 1 and re.search(r", result (VALID|INVALID)$", perf[0])
    assert re.search(r"^Offline performance: [\d.]+ samples/s", proc.stdout, re.M)
    assert re.search(r"^SingleStream performance: 90th percentile latency [\d.]+ ms", proc.stdout, re.M)
    assert "CPUExecutionProvider" in proc.stdout


@pytest.mark.parametrize("scenario", ["Offline", "SingleStream"])
def test_results_layout(both_run, standin, scenario):
    _, out = both_run
    base = out / "testbox" / "resnet50" / scenario
    perf, acc = base / "performance" / "run_1", base / "accuracy"
    summary = (perf / "mlperf_log_summary.txt").read_text()
    assert f"Scenario : {scenario}" in summary and "Mode     : PerformanceOnly" in summary
    assert "Result is" in summary
    for folder, mode in ((perf, "PerformanceOnly"), (acc, "AccuracyOnly")):
        # In accuracy mode LoadGen's summary holds only the warnings/errors lines.
        assert "No errors encountered during test." in (folder / "mlperf_log_summary.txt").read_text()
        assert (folder / "mlperf_log_detail.txt").stat().st_size > 0
        assert not (folder / "mlperf_log_trace.json").exists()
        detail = (folder / "mlperf_log_detail.txt").read_text()
        assert '"is_error": true' not in detail  # e.g. no "Multiple conf files are used"
        assert f'"key": "effective_scenario", "value": "{scenario}"' in detail
        assert f'"key": "effective_test_mode", "value": "{mode}"' in detail
    expected = json.loads((standin["root"] / "expected.json").read_text())
    text = (acc / "accuracy.txt").read_text()
    assert text == f"accuracy={expected['top1']:.3f}%, good={expected['good']}, total={expected['total']}\n"
    entries = json.loads((acc / "mlperf_log_accuracy.json").read_text())
    assert len({e["qsl_idx"] for e in entries}) == 60
    conf = (base / "user.conf").read_text()
    assert f"resnet50.{scenario}.min_query_count = 100" in conf
    assert f"resnet50.{scenario}.performance_sample_count_override = 60" in conf
    measurements = json.loads((base / "measurements.json").read_text())
    assert measurements["starting_weights_filename"] == "resnet50_v1.onnx"
    assert not list(out.rglob("audit.config"))


def test_rerun_into_same_output_refuses(both_run, standin):
    _, out = both_run
    proc = _run(_args(standin, out, "--scenario", "Offline", "--mode", "accuracy", "--count", "5"),
                cwd=out, timeout=60)
    assert proc.returncode == 1
    # The user.conf differs (count 5): refused before anything runs or is written.
    assert proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1
    assert "accuracy=75.000%" in (out / "testbox/resnet50/Offline/accuracy/accuracy.txt").read_text()


def test_count_subset_accuracy(standin, tmp_path):
    proc = _run(_args(standin, tmp_path / "o", "--scenario", "multistream", "--mode", "accuracy",
                      "--count", "20"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "MultiStream accuracy: accuracy=75.000%, good=15, total=20" in proc.stdout


def test_missing_model_is_one_error_line(standin, tmp_path):
    args = _args(standin, tmp_path / "o", "--scenario", "Offline")
    args[args.index("--model-path") + 1] = str(tmp_path / "missing.onnx")
    proc = _run(args, cwd=tmp_path, timeout=60)
    assert proc.returncode == 1
    assert proc.stdout == ""
    err = proc.stderr.splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "missing.onnx" in err[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_model_that_fails_at_inference(standin, tmp_path):
    """A model the backend loads but cannot run on these samples: exit 1, one
    error line, no traceback, no hang."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ArgMax", ["input_tensor:0"], ["ArgMax:0"], axis=1, keepdims=0)], "bad",
        [helper.make_tensor_value_info("input_tensor:0", TensorProto.FLOAT, ["n", 5])],
        [helper.make_tensor_value_info("ArgMax:0", TensorProto.INT64, ["n"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 6
    path = tmp_path / "bad.onnx"
    onnx.save(model, path)
    args = _args(standin, tmp_path / "o", "--scenario", "Offline", "--count", "4")
    args[args.index("--model-path") + 1] = str(path)
    proc = _run(args, cwd=tmp_path, timeout=60)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
