"""Bad, contradictory or out-of-range arguments: one argparse-style line on
stderr, exit status 2, nothing run and nothing written."""

import pytest

from harness_test_support import run_harness
from mlperf_harness.cli import parse_plan

BASE = ["--model-path", "m.onnx", "--dataset-path", "d", "--output-dir", "o"]


@pytest.mark.parametrize("extra,needle", [
    (["--target-qps", "nan"], "--target-qps: nan must be a positive number"),
    (["--target-qps", "inf"], "must be a positive number"),
    (["--server-target-qps", "0"], "must be a positive number"),
    (["--offline-target-qps", "-5"], "must be a positive number"),
    (["--offline-target-qps", "1e12"], "out of range"),
    (["--singlestream-target-latency-ms", "abc"], "is not a number"),
    (["--multistream-target-latency-ms", "1e9"], "out of range"),
    (["--max-batchsize", "0"], "must be at least 1"),
    (["--max-batchsize", "100000"], "out of range"),
    (["--threads", "0"], "must be at least 1"),
    (["--threads", "9999"], "out of range"),
    (["--count", "-3"], "must be at least 1"),
    (["--test-query-count", "0"], "must be at least 1"),
    (["--run-style", "valid", "--test-query-count", "100"], "applies to --run-style test only"),
    (["--dataset-args", "nope=1"], "unknown key 'nope' for the imagenet dataset"),
    (["--dataset-args", "cache_dir"], "expected key=value"),
    (["--dataset-args", "cache_dir=a,cache_dir=b"], "cache_dir given twice"),
    (["--dataset-args", "layout=CHWN"], "layout must be one of NCHW, NHWC"),
    (["--model", "bert-99", "--dataset-args", "cache_dir=x,layout=NCHW"], "unknown key 'layout'"),
    (["--backend", "caffe"], "invalid choice"),
    (["--scenario", "offline,bogus"], "unknown scenario 'bogus'"),
])
def test_usage_errors(extra, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_plan(BASE + extra)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("python -m mlperf_harness: error: ") and needle in err, err


def test_flags_parse_into_the_plan():
    plan = parse_plan(BASE + ["--scenario", "offline,server,singlestream,multistream",
                              "--target-qps", "10", "--server-target-qps", "20",
                              "--target-latency-ms", "5", "--multistream-target-latency-ms", "9",
                              "--dataset-args", "cache_dir=/tmp/c, layout=NHWC",
                              "--backend", "tensorflow"])
    assert plan.backend == "tf"
    assert plan.targets("Offline") == (10.0, 5.0)
    assert plan.targets("Server") == (20.0, 5.0)
    assert plan.targets("MultiStream") == (10.0, 9.0)
    assert plan.dataset_args == {"cache_dir": "/tmp/c", "layout": "NHWC"}
    assert plan.test_query_count == 500


def test_count_larger_than_the_dataset(standin, tmp_path):
    proc = run_harness(["--model-path", standin["model_path"], "--dataset-path",
                        standin["dataset_path"], "--output-dir", tmp_path / "o", "--count", "61"],
                       cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "python -m mlperf_harness: error: --count 61 exceeds the 60 samples listed in "
        f"{standin['dataset_path']}/val_map.txt"]
    assert not (tmp_path / "o").exists()


def test_help_works():
    proc = run_harness(["--help"], cwd=".", timeout=60)
    assert proc.returncode == 0
    for flag in ("--offline-target-qps", "--server-target-qps", "--singlestream-target-latency-ms",
                 "--multistream-target-latency-ms", "--dataset-args"):
        assert flag in proc.stdout
