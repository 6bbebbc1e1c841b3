from pathlib import Path

import pytest

from mlperf_harness import report, results
from mlperf_harness.errors import HarnessError


def test_layout():
    assert results.test_dir("/o", "sys", "resnet50", "Offline", "performance") == \
        Path("/o/sys/resnet50/Offline/performance/run_1")
    assert results.test_dir("/o", "sys", "resnet50", "SingleStream", "accuracy") == \
        Path("/o/sys/resnet50/SingleStream/accuracy")


@pytest.mark.parametrize("name", ["", "..", "a/b", "-x", "a b"])
def test_bad_names(name):
    with pytest.raises(HarnessError):
        results.check_name("--system", name)


def test_never_overwrites(tmp_path):
    folder = tmp_path / "acc"
    results.make_test_dir(folder)
    results.make_test_dir(folder)  # empty is fine
    (folder / "x").write_text("1")
    with pytest.raises(HarnessError, match="already holds results"):
        results.make_test_dir(folder)
    kept = tmp_path / "user.conf"
    results.write_kept_file(kept, "a\n")
    results.write_kept_file(kept, "a\n")
    with pytest.raises(HarnessError, match="other contents"):
        results.write_kept_file(kept, "b\n")
    assert kept.read_text() == "a\n"


def test_trace_removed_only_when_empty(tmp_path):
    (tmp_path / results.TRACE).write_text("")
    results.remove_empty_trace(tmp_path)
    assert not (tmp_path / results.TRACE).exists()
    (tmp_path / results.TRACE).write_text("[]")
    results.remove_empty_trace(tmp_path)
    assert (tmp_path / results.TRACE).exists()


def test_measurements():
    import json
    data = json.loads(results.measurements_text("/m/resnet50_v1.onnx"))
    assert data == {"starting_weights_filename": "resnet50_v1.onnx", "retraining": "no",
                    "input_data_types": "fp32", "weight_data_types": "fp32",
                    "weight_transformations": "none"}


SUMMARY = """================================================
MLPerf Results Summary
================================================
SUT name : PySUT
Scenario : {scenario}
Mode     : PerformanceOnly
{metric}
Result is : VALID
  Min duration satisfied : Yes
"""


@pytest.mark.parametrize("scenario,metric,expected", [
    ("Offline", "Samples per second: 12345.64", "12345.6 samples/s"),
    ("SingleStream", "90.0th percentile latency (ns) : 828377", "90th percentile latency 0.828 ms"),
    ("MultiStream", "99.0th percentile latency (ns) : 1892524", "99th percentile latency 1.893 ms"),
    ("Server", "Completed samples per second    : 95.91\nScheduled samples per second : 95.92",
     "95.9 samples/s (completed; 95.9 scheduled)"),
])
def test_performance_line(tmp_path, scenario, metric, expected):
    path = tmp_path / "s.txt"
    path.write_text(SUMMARY.format(scenario=scenario, metric=metric))
    summary = results.read_summary(path)
    assert summary.scenario == scenario
    assert report.performance_line(scenario, summary) == \
        f"{scenario} performance: {expected}, result VALID"
