import json

import pytest

from harness_test_support import run_python
from mlperf_harness.loadgen_settings import ignored_targets, user_conf_text


def _conf(text):
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_test_style_offline():
    text = user_conf_text("resnet50", "Offline", "test", 60, 1024, 500)
    assert _conf(text) == [
        "resnet50.Offline.min_duration = 0",
        "resnet50.Offline.min_query_count = 500",
        "resnet50.Offline.max_query_count = 500",
        "resnet50.Offline.performance_sample_count_override = 60",
    ]


def test_test_style_server_gets_a_rate_and_user_targets():
    assert "resnet50.Server.target_qps = 100" in _conf(
        user_conf_text("resnet50", "Server", "test", 1024, 1024, 200))
    lines = _conf(user_conf_text("resnet50", "Server", "test", 1024, 1024, 200, target_qps=250.5))
    assert lines.count("resnet50.Server.target_qps = 250.5") == 1
    assert not any(line.endswith("= 100") for line in lines)


def test_test_style_singlestream_latency():
    lines = _conf(user_conf_text("bert", "SingleStream", "test", 100, 10833, 64,
                                 target_qps=5, target_latency_ms=12))
    assert "bert.SingleStream.target_latency = 12" in lines
    assert not any("target_qps" in line for line in lines)  # not for SingleStream


def test_valid_style_only_what_was_asked():
    assert _conf(user_conf_text("resnet50", "Offline", "valid", 1024, 1024, 500)) == []
    assert _conf(user_conf_text("resnet50", "Offline", "valid", 1024, 1024, 500, target_qps=9000)) \
        == ["resnet50.Offline.target_qps = 9000"]
    assert _conf(user_conf_text("resnet50", "MultiStream", "valid", 1024, 1024, 500,
                                target_latency_ms=2.5)) \
        == ["resnet50.MultiStream.target_latency = 2.5"]
    # Fewer samples than MLPerf's performance sample count: LoadGen must be told.
    assert _conf(user_conf_text("resnet50", "Offline", "valid", 300, 1024, 500)) \
        == ["resnet50.Offline.performance_sample_count_override = 300"]


def test_ignored_targets():
    assert ignored_targets("Offline", 10.0, 5.0) == ["--target-latency-ms"]
    assert ignored_targets("Server", 10.0, 5.0) == []  # target_latency: Server's latency bound
    assert ignored_targets("SingleStream", 10.0, None) == ["--target-qps"]
    assert ignored_targets("Server", None, None) == []


_PROBE = """
import json, sys
from mlperf_harness.loadgen_settings import build_test_settings
from mlperf_harness.errors import HarnessError
try:
    s = build_test_settings("resnet50", sys.argv[2], "performance", sys.argv[1])
except HarnessError as exc:
    print(json.dumps({"error": str(exc)})); sys.exit(0)
print(json.dumps({"min_query_count": s.min_query_count, "max_query_count": s.max_query_count,
                  "min_duration_ms": s.min_duration_ms, "pss": s.performance_sample_count_override,
                  "qsl_rng_seed": s.qsl_rng_seed, "expected_latency_ns": s.single_stream_expected_latency_ns}))
"""


def _probe(conf_path, scenario):
    out = run_python(["-c", _PROBE, conf_path, scenario])
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_loadgen_reads_generated_conf(tmp_path):
    conf = tmp_path / "user.conf"
    conf.write_text(user_conf_text("resnet50", "SingleStream", "test", 60, 1024, 123,
                                   target_latency_ms=2))
    got = _probe(conf, "SingleStream")
    assert got["min_query_count"] == 123 and got["max_query_count"] == 123
    assert got["min_duration_ms"] == 0 and got["pss"] == 60
    assert got["expected_latency_ns"] == 2_000_000
    assert got["qsl_rng_seed"] != 0  # the official seeds from the embedded mlperf.conf


@pytest.mark.parametrize("text,needle", [(None, "not found"),
                                         ("resnet50.Offline.min_query_count = lots\n", "code -22")])
def test_loadgen_conf_errors(tmp_path, text, needle):
    conf = tmp_path / "user.conf"
    if text is not None:
        conf.write_text(text)
    got = _probe(conf, "Offline")
    assert needle in got.get("error", "")


def test_valid_style_keeps_mlperf_minimums(tmp_path):
    conf = tmp_path / "user.conf"
    conf.write_text(user_conf_text("resnet50", "SingleStream", "valid", 1024, 1024, 500))
    got = _probe(conf, "SingleStream")
    assert got["min_duration_ms"] == 600000 and got["pss"] == 1024
