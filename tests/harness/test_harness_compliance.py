"""MLPerf audit tests (TEST01, TEST04): the verification logic on hand-made logs, the
settings' checks, and one real run of the harness with --compliance."""

import json

import numpy as np
import pytest

from harness_test_support import run_harness
from mlperf_harness import compliance
from mlperf_harness.contract import BenchmarkSettings, SettingsError, parse_compliance
from mlperf_harness.errors import UsageError


def _log(path, entries):
    path.write_text(json.dumps([{"seq_id": i, "qsl_idx": q, "data": d}
                                for i, (q, d) in enumerate(entries)]))
    return path


def _label(value):
    return np.array([value], dtype="<i4").tobytes().hex().upper()


def test_accuracy_match_by_qsl_idx(tmp_path):
    ref = _log(tmp_path / "ref.json", [(0, _label(5)), (1, _label(7)), (2, _label(9))])
    test = _log(tmp_path / "test.json", [(2, _label(9)), (0, _label(5)), (0, _label(5))])
    verdict = compliance.verify_accuracy(ref, test, "int32")
    assert verdict.passed and verdict.matched == 3 and verdict.mismatched == 0
    assert verdict.text().rstrip().endswith("TEST PASS")


def test_accuracy_mismatch_and_missing(tmp_path):
    ref = _log(tmp_path / "ref.json", [(0, _label(5)), (1, _label(7))])
    test = _log(tmp_path / "test.json", [(0, _label(6)), (3, _label(1))])
    verdict = compliance.verify_accuracy(ref, test, "int32")
    assert not verdict.passed
    assert (verdict.mismatched, verdict.missing) == (1, 1)
    assert verdict.text().rstrip().endswith("TEST FAIL")


def test_accuracy_nothing_matched_fails(tmp_path):
    ref = _log(tmp_path / "ref.json", [(0, _label(5))])
    test = _log(tmp_path / "test.json", [(4, _label(5))])
    assert not compliance.verify_accuracy(ref, test, "int32").passed


def test_accuracy_compares_first_element_in_dtype(tmp_path):
    # Official semantics: the first element in the response dtype decides.
    first_same = np.array([1.5, 2.0], "<f4").tobytes().hex()
    other_tail = np.array([1.5, 3.0], "<f4").tobytes().hex()
    ref = _log(tmp_path / "ref.json", [(0, first_same)])
    test = _log(tmp_path / "test.json", [(0, other_tail)])
    assert compliance.verify_accuracy(ref, test, "float32").passed


def test_baseline_entries(tmp_path):
    ref = _log(tmp_path / "ref.json", [(0, "00"), (1, "01"), (2, "02")])
    test = _log(tmp_path / "test.json", [(2, "02"), (0, "00")])
    assert [e["qsl_idx"] for e in compliance.baseline_entries(ref, test)] == [0, 2]


def test_bad_accuracy_log(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(Exception, match="expected a JSON list"):
        compliance.verify_accuracy(bad, bad)


def _detail(path, scenario, validity="VALID", **values):
    records = {"effective_scenario": scenario, "result_validity": validity, **values}
    path.write_text("".join(f':::MLLOG {json.dumps({"key": k, "value": v})}\n'
                            for k, v in records.items()))
    return path


@pytest.mark.parametrize("test,measured,passed", [
    ("TEST01", 1050.0, True), ("TEST01", 880.0, False), ("TEST01", 1200.0, False),
    ("TEST04", 500.0, True), ("TEST04", 1090.0, True), ("TEST04", 1150.0, False)])
def test_offline_performance_margins(tmp_path, test, measured, passed):
    ref = _detail(tmp_path / "ref.txt", "Offline", result_samples_per_second=1000.0)
    new = _detail(tmp_path / "new.txt", "Offline", result_samples_per_second=measured)
    verdict = compliance.verify_performance(test, ref, new)
    assert verdict.passed is passed, verdict.text()
    assert verdict.text().rstrip().splitlines()[-1].startswith("TEST PASS" if passed else "TEST FAIL")


def test_singlestream_short_latency_margin(tmp_path):
    # 0.1 ms latencies: 20% margin; the test is 15% slower (a lower score): TEST01 passes.
    ref = _detail(tmp_path / "ref.txt", "SingleStream", early_stopping_latency_ss=100000)
    new = _detail(tmp_path / "new.txt", "SingleStream", early_stopping_latency_ss=115000)
    verdict = compliance.verify_performance("TEST01", ref, new)
    assert verdict.threshold == 0.20 and verdict.passed


def test_invalid_or_mismatched_runs_fail(tmp_path):
    ref = _detail(tmp_path / "ref.txt", "Offline", result_samples_per_second=1000.0)
    invalid = _detail(tmp_path / "bad.txt", "Offline", "INVALID", result_samples_per_second=1000.0)
    other = _detail(tmp_path / "ss.txt", "SingleStream", early_stopping_latency_ss=100000)
    assert "INVALID" in compliance.verify_performance("TEST04", ref, invalid).text()
    assert "scenarios differ" in compliance.verify_performance("TEST04", ref, other).text()


def test_audit_configs():
    text01 = compliance.audit_config_text("TEST01")
    assert "*.*.mode = 2" in text01 and "*.*.accuracy_log_sampling_target = 4096" in text01
    assert "*.*.accuracy_log_rng_seed = 720381539243781796" in text01
    text04 = compliance.audit_config_text("TEST04")
    for scenario in ("Offline", "Server", "SingleStream", "MultiStream"):
        assert f"*.{scenario}.performance_issue_same_index = 3" in text04


def test_tests_per_model():
    compliance.check_tests(["TEST01", "TEST04"], "resnet50", "resnet50")
    compliance.check_tests(["TEST01"], "bert-99", "bert")
    with pytest.raises(UsageError, match="no TEST04 for bert-99"):
        compliance.check_tests(["TEST04"], "bert-99", "bert")
    with pytest.raises(UsageError, match="TEST06 checks LLM outputs"):
        compliance.check_tests(["TEST06"], "resnet50", "resnet50")


def test_setting_parsing_and_modes():
    assert parse_compliance("test01, TEST04") == ["TEST01", "TEST04"]
    assert parse_compliance(None) == []
    with pytest.raises(SettingsError, match="expected TEST01, TEST04, TEST06"):
        parse_compliance("TEST05")
    with pytest.raises(SettingsError, match="given twice"):
        parse_compliance("TEST01,test01")
    with pytest.raises(SettingsError, match="needs --mode both"):
        BenchmarkSettings(mode="performance", compliance="TEST01").validate()
    with pytest.raises(SettingsError, match="needs a performance run"):
        BenchmarkSettings(mode="accuracy", compliance="TEST04").validate()
    BenchmarkSettings(mode="performance", compliance="TEST04").validate()
    assert "--compliance" in BenchmarkSettings(mode="both", compliance="TEST01").to_argv()


def _args(standin, out, *extra):
    return ["--model", "resnet50", "--backend", "onnxruntime", "--device", "cpu",
            "--model-path", standin["model_path"], "--dataset-path", standin["dataset_path"],
            "--output-dir", str(out), "--system", "testbox", *extra]


def test_harness_runs_and_verifies_audit_tests(standin, tmp_path):
    proc = run_harness(_args(standin, tmp_path, "--scenario", "Offline", "--mode", "both",
                             "--test-query-count", "100", "--compliance", "TEST01,TEST04",
                             "--prefetch", "on"),
                       cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # the audit runs get the SUT settings of the runs they check: accuracy, performance, TEST01, TEST04
    assert proc.stdout.count("prefetch: a thread gathers the next batch") == 4, proc.stdout
    assert "Offline TEST01 accuracy: TEST PASS" in proc.stdout
    assert "Offline TEST04 performance: " in proc.stdout
    base = tmp_path / "testbox" / "resnet50" / "Offline"
    t01, t04 = base / "TEST01", base / "TEST04"
    assert "TEST PASS" in (t01 / "verify_accuracy.txt").read_text()
    for folder in (t01, t04):
        assert "TEST " in (folder / "verify_performance.txt").read_text()
        run = folder / "performance" / "run_1"
        assert {"mlperf_log_summary.txt", "mlperf_log_detail.txt"} <= {p.name for p in run.iterdir()}
        detail = (run / "mlperf_log_detail.txt").read_text()
        assert "Found Audit Config file" in detail  # LoadGen applied the test's audit.config
        assert '"is_error": true' not in detail
    assert not (t01 / "performance" / "run_1" / "mlperf_log_accuracy.json").exists()
    logged = json.loads((t01 / "accuracy" / "mlperf_log_accuracy.json").read_text())
    assert logged, "TEST01 logged no responses in performance mode"
    for name in ("accuracy.txt", "baseline_accuracy.txt", "compliance_accuracy.txt"):
        assert (t01 / "accuracy" / name).read_text().startswith("accuracy=")
    assert '"key": "effective_performance_issue_same", "value": true' in \
        (t04 / "performance" / "run_1" / "mlperf_log_detail.txt").read_text()
    # The submission run itself had no audit.config.
    assert "Found Audit Config" not in (base / "performance" / "run_1" / "mlperf_log_detail.txt").read_text()


def test_harness_refuses_test06(standin, tmp_path):
    proc = run_harness(_args(standin, tmp_path, "--mode", "both", "--compliance", "TEST06"),
                       cwd=tmp_path)
    assert proc.returncode == 2
    assert "TEST06 checks LLM outputs" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())
