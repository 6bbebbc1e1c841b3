"""Each seed flag on `mlperf-docker run` reaches LoadGen: read back from mlperf_log_detail.txt."""

from __future__ import annotations

import json

import pytest
from integration_support import mlperf_docker

pytestmark = pytest.mark.docker


def effective(detail: str) -> dict:
    values = {}
    for line in detail.splitlines():
        if line.startswith(":::MLLOG"):
            record = json.loads(line.split(" ", 1)[1])
            if record["key"].startswith("effective_"):
                values[record["key"]] = record["value"]
    return values


def test_flags_reach_loadgen(built_image, cli_env, tmp_path):
    out_dir = tmp_path / "results"
    proc = mlperf_docker(
        cli_env, "run", "--scenario", "Offline,Server,SingleStream,MultiStream", "--mode", "performance",
        "--output_dir", str(out_dir), "--count", "40", "--test_query_count", "120", "--max_batchsize", "4",
        "--threads", "1", "--target_qps", "700", "--server_target_qps", "50", "--target_latency", "3",
        "--singlestream_target_latency", "0.5", "--hw_name", "ci box")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [run_dir] = out_dir.iterdir()
    [system] = [p.name for p in run_dir.iterdir() if p.is_dir()]
    assert system == "ci_box-reference-cpu-onnxruntime-v1.32.0"
    got = {}
    for scenario in ("Offline", "Server", "SingleStream", "MultiStream"):
        scenario_dir = run_dir / system / "resnet50" / scenario
        got[scenario] = effective((scenario_dir / "performance" / "run_1" / "mlperf_log_detail.txt").read_text())
        assert got[scenario]["effective_performance_sample_count"] == 40
        # Offline issues one query of test_query_count samples; the others issue that many queries.
        key = "effective_samples_per_query" if scenario == "Offline" else "effective_min_query_count"
        assert got[scenario][key] == 120
        assert "min_query_count = 120" in (scenario_dir / "user.conf").read_text()
    assert got["Offline"]["effective_target_qps"] == pytest.approx(700)
    assert got["Server"]["effective_target_qps"] == pytest.approx(50)
    # LoadGen turns an expected latency into its target QPS for SingleStream / MultiStream, and uses
    # target_latency as the latency bound for Server.
    assert got["SingleStream"]["effective_target_qps"] == pytest.approx(1000 / 0.5)
    assert got["MultiStream"]["effective_target_qps"] == pytest.approx(1000 / 3, rel=1e-4)
    assert got["Server"]["effective_target_latency_ns"] == 3_000_000
    # batch size and threads are the harness's own settings: recorded in the kept user.conf
    assert "max_batchsize=4 threads=1" in (run_dir / system / "resnet50" / "Offline" / "user.conf").read_text()


def test_contradictions_are_refused_before_anything_runs(cli_env, tmp_path):
    out_dir = tmp_path / "results"
    proc = mlperf_docker(cli_env, "run", "--scenario", "Offline", "--singlestream_target_latency", "1",
                         "--output_dir", str(out_dir))
    assert proc.returncode == 2 and proc.stderr.startswith("error: --singlestream_target_latency applies to SingleStream")
    assert not out_dir.exists()
