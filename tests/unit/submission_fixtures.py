"""Hand-made run folders (what `mlperf-docker run` leaves) for the submission and report tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from launcher.run.lifecycle import write_complete

SYSTEM = "box-reference-cpu-onnxruntime-v1.32.0"
IMAGE = "mlperf-docker/onnxruntime-cpu:resnet50-fp32-standin"


def _detail(scenario: str, mode: str, extra: dict) -> str:
    values = {"loadgen_version": "6.0.17 @ d6147c7eb7", "effective_scenario": scenario,
              "effective_test_mode": mode, "result_validity": "VALID", "sut_name": "stand-in",
              "result_min_latency_ns": 200000, "result_mean_latency_ns": 400000,
              "result_max_latency_ns": 9000000, "result_50.00_percentile_latency_ns": 300000,
              "result_90.00_percentile_latency_ns": 450000, "result_95.00_percentile_latency_ns": 600000,
              "result_97.00_percentile_latency_ns": 800000, "result_99.00_percentile_latency_ns": 2000000,
              "result_99.90_percentile_latency_ns": 8000000, "result_query_count": 500,
              "result_samples_per_second": 2000.0, "early_stopping_latency_ss": 460000, **extra}
    return "".join(f":::MLLOG {json.dumps({'key': k, 'value': v, 'metadata': {'is_error': False}})}\n"
                   for k, v in values.items())


def _summary(scenario: str, mode: str, throughput: float, latency_ns: int) -> str:
    lines = ["================================================", "MLPerf Results Summary",
             "================================================", "SUT name : stand-in",
             f"Scenario : {scenario}",
             f"Mode     : {'PerformanceOnly' if mode == 'performance' else 'AccuracyOnly'}"]
    if mode == "performance":
        if scenario in ("Offline", "Server"):
            lines.append(f"Samples per second: {throughput}")
        else:
            lines.append(f"90th percentile latency (ns) : {latency_ns}")
        lines += ["Result is : VALID", "  Min duration satisfied : Yes", "  Min queries satisfied : Yes"]
    lines.append("No errors encountered during test.")
    return "\n".join(lines) + "\n"


def _write(path: Path, text) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


def make_run(root: Path, name: str = "20261129-000000-onnxruntime-cpu-resnet50",
             scenarios=("Offline", "SingleStream"), audits=("TEST01", "TEST04"), samples: int = 600,
             throughput: float = 2000.0, latency_ns: int = 450000, record: dict | None = None) -> Path:
    """A complete run folder with large accuracy logs (so they need truncation)."""
    run = root / name
    run.mkdir(parents=True)
    _write(run / "run.json", json.dumps(record or {
        "signature": "abc", "variation": "_cpu,_onnxruntime,_resnet50,_fp32", "image": IMAGE,
        "scenarios": list(scenarios), "mode": "both",
        "command": ["mlperf-docker", "run", "--scenario", ",".join(scenarios), "--mode", "both"],
        "image_id": "sha256:" + "1" * 64}))
    entries = [{"seq_id": i, "qsl_idx": i % 60, "data": f"{i % 7:08X}"} for i in range(samples)]
    log = json.dumps(entries, indent=0)
    for scenario in scenarios:
        base = run / SYSTEM / "resnet50" / scenario
        extra = {"result_samples_per_second": throughput, "early_stopping_latency_ss": latency_ns}
        _write(base / "user.conf", f"resnet50.{scenario}.min_duration = 0\n")
        _write(base / "measurements.json", json.dumps({
            "starting_weights_filename": "resnet50_v1.onnx", "retraining": "no",
            "input_data_types": "fp32", "weight_data_types": "fp32", "weight_transformations": "none"}))
        perf = base / "performance" / "run_1"
        _write(perf / "mlperf_log_summary.txt", _summary(scenario, "performance", throughput, latency_ns))
        _write(perf / "mlperf_log_detail.txt", _detail(scenario, "PerformanceOnly", extra))
        _write(perf / "mlperf_log_accuracy.json", "[]\n")
        acc = base / "accuracy"
        _write(acc / "mlperf_log_summary.txt", _summary(scenario, "accuracy", 0, 0))
        _write(acc / "mlperf_log_detail.txt", _detail(scenario, "AccuracyOnly", {}))
        _write(acc / "mlperf_log_accuracy.json", log)
        _write(acc / "accuracy.txt", "accuracy=75.000%, good=45, total=60\n")
        for test in audits:
            folder = base / test
            _write(folder / "audit.config", "*.*.mode = 2\n")
            _write(folder / "verify_performance.txt", "TEST PASS\n")
            _write(folder / "performance" / "run_1" / "mlperf_log_summary.txt",
                   _summary(scenario, "performance", throughput, latency_ns))
            _write(folder / "performance" / "run_1" / "mlperf_log_detail.txt",
                   _detail(scenario, "PerformanceOnly", extra))
            if test == "TEST01":
                _write(folder / "verify_accuracy.txt", "TEST PASS\n")
                _write(folder / "accuracy" / "mlperf_log_accuracy.json", log)
                for txt in ("accuracy.txt", "baseline_accuracy.txt", "compliance_accuracy.txt"):
                    _write(folder / "accuracy" / txt, "accuracy=75.000%, good=45, total=60\n")
    write_complete(run, scenarios, "both")  # as the launcher does after a finished run
    return run


def tree_digest(path: Path) -> dict:
    """Every file under ``path`` -> its sha256 (to prove a folder was not modified)."""
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


USER_YAML = """\
submitter: MyOrg
status: available
system_type: edge
cooling: air
hw_notes: stand-in test box
"""

HOST = {  # host facts, fixed for the tests (host_fields() reads the real machine)
    "number_of_nodes": "1", "host_processor_model_name": "Test CPU", "host_processors_per_node": "1",
    "host_processor_core_count": "2", "host_processor_frequency": "2.0 GHz",
    "host_processor_caches": "L2 1 MiB", "host_processor_interconnect": "",
    "host_memory_capacity": "24 GB", "host_memory_configuration": "24 GB total",
    "host_storage_capacity": "100 GB", "host_storage_type": "SSD", "host_networking": "eth0",
    "host_network_card_count": "1", "host_networking_topology": "N/A (single node)",
    "operating_system": "Debian 12", "system_name": "box (Test CPU)",
    "accelerators_per_node": "0", "accelerator_model_name": "N/A", "accelerator_memory_capacity": "N/A",
    "accelerator_frequency": "", "accelerator_host_interconnect": "N/A",
    "accelerator_interconnect": "N/A", "accelerator_interconnect_topology": "",
    "accelerator_memory_configuration": "N/A", "accelerator_on-chip_memories": "",
}
