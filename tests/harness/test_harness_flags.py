"""Each harness flag reaches LoadGen (through the user.conf kept in the
results) or the SUT: short runs, effective values read back from
mlperf_log_detail.txt (``:::MLLOG`` lines) and from the harness's report."""

import re

import numpy as np
import pytest

from harness_test_support import finish, mllog, run_harness, start_harness, test_folder
from mlperf_harness.sut import usable_cpus

SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream")


def _args(standin, out, *extra):
    return ["--model", "resnet50", "--backend", "onnxruntime", "--model-path", standin["model_path"],
            "--dataset-path", standin["dataset_path"], "--output-dir", out, "--system", "box",
            *extra]


@pytest.fixture(scope="module")
def runs(standin, bert_standin, tmp_path_factory):
    """Four harness runs, started together."""
    specs = {
        # Generic and scenario-specific targets together: the specific ones win for their
        # scenario, the generic ones apply elsewhere.
        "mixed": ["--scenario", ",".join(SCENARIOS), "--mode", "performance", "--count", "20",
                  "--test-query-count", "37", "--target-qps", "321", "--offline-target-qps", "123",
                  "--target-latency-ms", "40", "--singlestream-target-latency-ms", "2",
                  "--max-batchsize", "4", "--threads", "1"],
        "specific": ["--scenario", "Server,MultiStream", "--mode", "performance",
                     "--test-query-count", "16", "--server-target-qps", "250", "--prefetch", "on",
                     "--multistream-target-latency-ms", "20", "--target-latency-ms", "30"],
        # A valid-style Offline run ends when its one query is done (min_duration only
        # decides validity), so with a low target it issues MLPerf's minimum sample count:
        # on the bert stand-in (whose samples are small) that takes about a second.
        "valid": ["--model", "bert-99", "--model-path", bert_standin["model_path"],
                  "--dataset-path", bert_standin["dataset_path"],
                  "--scenario", "Offline", "--mode", "performance", "--run-style", "valid",
                  "--offline-target-qps", "1", "--count", "20", "--max-batchsize", "128"],
        "defaults": ["--scenario", "Offline,SingleStream", "--mode", "performance",
                     "--test-query-count", "25"],
    }
    started = {}
    for name, extra in specs.items():
        out = tmp_path_factory.mktemp(f"flags-{name}")
        started[name] = (start_harness(_args(standin, out, *extra), cwd=out), out)
    done = {}
    for name, (proc, out) in started.items():
        result = finish(proc)
        assert result.returncode == 0, (name, result.stderr[-2000:])
        done[name] = (result, out)
    return done


def _log(out, scenario, mode="performance", model="resnet50"):
    return mllog(test_folder(out, "box", model, scenario, mode) / "mlperf_log_detail.txt")


def _conf(out, scenario, model="resnet50"):
    return (out / "box" / model / scenario / "user.conf").read_text()


def test_target_qps_generic_and_offline_specific(runs):
    _, out = runs["mixed"]
    assert _log(out, "Offline")["effective_target_qps"] == 123
    assert _log(out, "Server")["effective_target_qps"] == 321
    assert "resnet50.Offline.target_qps = 123" in _conf(out, "Offline")
    assert "resnet50.Server.target_qps = 321" in _conf(out, "Server")


def test_server_target_qps(runs):
    _, out = runs["specific"]
    assert _log(out, "Server")["effective_target_qps"] == 250
    assert "resnet50.Server.target_qps = 250" in _conf(out, "Server")


def test_target_latency_is_the_server_latency_bound(runs, standin):
    _, out = runs["specific"]
    assert _log(out, "Server")["effective_target_latency_ns"] == 30_000_000
    _, defaults = runs["mixed"]
    assert _log(defaults, "Server")["effective_target_latency_ns"] == 40_000_000


def test_target_latency_generic_and_singlestream_specific(runs):
    _, out = runs["mixed"]
    # LoadGen turns a latency target into the expected rate: 1 / latency.
    assert _log(out, "SingleStream")["effective_target_qps"] == pytest.approx(500)
    assert _log(out, "MultiStream")["effective_target_qps"] == pytest.approx(25)
    assert "resnet50.SingleStream.target_latency = 2" in _conf(out, "SingleStream")
    assert "resnet50.MultiStream.target_latency = 40" in _conf(out, "MultiStream")


def test_multistream_target_latency(runs):
    _, out = runs["specific"]
    # The specific flag wins over --target-latency-ms 30.
    assert _log(out, "MultiStream")["effective_target_qps"] == pytest.approx(50)


def test_count_sets_the_performance_sample_count(runs):
    _, out = runs["mixed"]
    for scenario in SCENARIOS:
        log = _log(out, scenario)
        assert log["effective_performance_sample_count"] == 20
        assert "performance_sample_count_override = 20" in _conf(out, scenario)


def test_test_query_count(runs):
    _, out = runs["mixed"]
    assert _log(out, "Offline")["effective_samples_per_query"] == 37
    for scenario in ("Server", "SingleStream", "MultiStream"):
        log = _log(out, scenario)
        assert log["effective_min_query_count"] == log["effective_max_query_count"] == 37
        assert log["effective_min_duration_ms"] == 0


def test_defaults(runs, standin):
    _, out = runs["defaults"]
    offline = _log(out, "Offline")
    assert offline["effective_min_duration_ms"] == 0
    assert offline["effective_samples_per_query"] == 25
    assert offline["effective_performance_sample_count"] == 60
    single = _log(out, "SingleStream")
    assert single["effective_min_query_count"] == 25
    assert "target_qps" not in _conf(out, "Offline") and "target_latency" not in _conf(out, "SingleStream")


def test_run_style_valid_keeps_mlperf_settings(runs):
    proc, out = runs["valid"]
    log = _log(out, "Offline", model="bert-99")
    assert log["effective_min_duration_ms"] == 600000  # MLPerf's, not the test style's 0
    assert log["effective_target_qps"] == 1
    assert log["effective_performance_sample_count"] == 20  # fewer samples than 10833: overridden
    assert log["effective_max_query_count"] == 0
    assert log["effective_samples_per_query"] == log["effective_min_sample_count"] > 1000
    conf = [l for l in _conf(out, "Offline", "bert-99").splitlines() if not l.startswith("#")]
    assert conf == ["bert.Offline.performance_sample_count_override = 20",
                    "bert.Offline.target_qps = 1"]
    assert "run_style=valid" in _conf(out, "Offline", "bert-99")


def test_max_batchsize_and_threads_reach_the_sut(runs):
    proc, out = runs["mixed"]
    described = [l for l in proc.stdout.splitlines() if l.startswith("backend for ")]
    assert len(described) == 4 and all("intra-op threads: 1" in l for l in described)
    stats = dict(re.findall(r"^sut: .*largest batch (\d+) \(max-batchsize \d+\) for (\w+) performance$",
                            proc.stdout, re.M)[i][::-1] for i in range(4))
    assert stats["Offline"] == "4"  # 37 samples in batches of at most 4
    assert stats["MultiStream"] == "4"  # LoadGen's 8-sample queries, split in two
    assert stats["SingleStream"] == "1"
    assert "max_batchsize=4 threads=1" in _conf(out, "Offline")
    defaults, _ = runs["defaults"]
    assert "largest batch 25 (max-batchsize 32) for Offline" in defaults.stdout
    assert "intra-op threads: default" in defaults.stdout


def test_prefetch_auto_gathers_ahead_where_threads_leave_a_cpu_free(runs):
    gathering = "prefetch: a thread gathers the next batch"
    mixed, _ = runs["mixed"]  # --threads 1: auto is on for Offline and Server where a CPU is left
    assert mixed.stdout.count(gathering) == (2 if usable_cpus() > 1 else 0), mixed.stdout
    defaults, _ = runs["defaults"]  # the framework's own threads (every CPU): off
    assert gathering not in defaults.stdout
    specific, _ = runs["specific"]  # --prefetch on: Server gathers ahead, MultiStream runs inline
    assert specific.stdout.count(gathering) == 1


def test_warns_about_targets_that_do_not_apply(runs):
    proc, _ = runs["specific"]
    assert proc.stderr.count("warning:") == 0
    mixed, _ = runs["mixed"]
    warnings = [l for l in mixed.stderr.splitlines() if l.startswith("warning:")]
    # --target-qps for SingleStream and MultiStream, --target-latency-ms for Offline.
    assert len(warnings) == 3, warnings


def test_dataset_args_cache_dir(standin, tmp_path):
    cache = tmp_path / "cache"
    first = run_harness(_args(standin, tmp_path / "a", "--count", "6",
                              "--dataset-args", f"cache_dir={cache}"), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    files = sorted((cache / "NCHW").glob("*.npy"))
    assert len(files) == 6
    assert files[0].name == "ILSVRC2012_val_00000001.JPEG.npy"
    array = np.load(files[0])
    assert array.shape == (3, 224, 224) and array.dtype == np.float32
    stamps = [f.stat().st_mtime_ns for f in files]
    second = run_harness(_args(standin, tmp_path / "b", "--count", "6",
                               "--dataset-args", f"cache_dir={cache}"), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert [f.stat().st_mtime_ns for f in files] == stamps  # reused, not rewritten
    assert "Offline accuracy: accuracy=83.333%, good=5, total=6" in second.stdout
    assert "dataset_args=cache_dir=" in (tmp_path / "b/box/resnet50/Offline/user.conf").read_text()
