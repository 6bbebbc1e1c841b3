from launcher.run.results import collect, metric

OFFLINE = """Scenario : Offline
Mode     : PerformanceOnly
Samples per second: 4057.9
Result is : VALID
"""
SINGLESTREAM = """Scenario : SingleStream
Mode     : PerformanceOnly
90.0th percentile latency (ns) : 287596
Result is : INVALID
"""


def test_collect_reads_each_test_folder(tmp_path):
    base = tmp_path / "sys" / "resnet50"
    (base / "Offline" / "performance" / "run_1").mkdir(parents=True)
    (base / "Offline" / "performance" / "run_1" / "mlperf_log_summary.txt").write_text(OFFLINE)
    (base / "SingleStream" / "performance" / "run_1").mkdir(parents=True)
    (base / "SingleStream" / "performance" / "run_1" / "mlperf_log_summary.txt").write_text(SINGLESTREAM)
    (base / "Offline" / "accuracy").mkdir()
    (base / "Offline" / "accuracy" / "mlperf_log_summary.txt").write_text("warnings only\n")
    (base / "Offline" / "accuracy" / "accuracy.txt").write_text("accuracy=75.000%, good=225, total=300\n")
    results = {(r.scenario, r.mode): r for r in collect(tmp_path)}
    assert metric(results["Offline", "performance"]) == "4057.9 samples/s"
    assert results["Offline", "performance"].validity == "VALID"
    assert metric(results["SingleStream", "performance"]) == "p90 0.288 ms"
    assert results["SingleStream", "performance"].validity == "INVALID"
    assert results["Offline", "accuracy"].accuracy == 75.0 and metric(results["Offline", "accuracy"]) == "-"
