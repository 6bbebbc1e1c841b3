"""The launcher <-> harness contract: settings round trips, validation errors,
the results tree and the LoadGen log readers."""

import json
from pathlib import Path

import pytest

from harness_test_support import run_python
from mlperf_harness import contract
from mlperf_harness.contract import (SETTINGS, BenchmarkSettings, SettingsError, read_accuracy,
                                     read_detail, read_summary)

REQUIRED = dict(model_path="/m.onnx", dataset_path="/d", output_dir="/o")

# A value for every setting that is valid on its own (scenario flags need their scenario).
SAMPLE = {
    "model": "bert-99", "backend": "pytorch", "device": "cuda", "precision": "bfloat16", "model_path": "/m/model.pt",
    "dataset_path": "/data", "output_dir": "/results", "system": "box",
    "scenario": "Offline,Server,SingleStream,MultiStream", "mode": "both", "count": 20,
    "test_query_count": 37, "max_batchsize": 4, "threads": 2, "target_qps": 12.5,
    "offline_target_qps": 123.0, "server_target_qps": 0.5, "target_latency": 40.0,
    "singlestream_target_latency": 2.0, "multistream_target_latency": 1e-3, "run_style": "test",
    "dataset_args": "cache_dir=/tmp/c,layout=NHWC", "compliance": "TEST01,TEST04",
    "batch_timeout_ms": 2.5, "find_peak": True, "beam_size": 4, "prefetch": "on",
    "network": "lon", "sut_servers": "http://a:8000,http://b:8001", "port": 8001,
}
# What a setting needs beside it to be valid (as scenario flags need their scenario).
CONTEXT = {"compliance": {"mode": "both"}, "network": {"sut_servers": "http://a:8000"},
           "sut_servers": {"network": "lon"}}
# LoadGen over the network runs Offline and Server, without audit tests: not with every other setting.
NETWORK_ONLY = ("network", "sut_servers")


def test_every_setting_has_a_sample():
    assert set(SAMPLE) == {s.name for s in SETTINGS}


def test_round_trip_all_settings():
    settings = BenchmarkSettings(**{k: v for k, v in SAMPLE.items() if k not in NETWORK_ONLY})
    settings.validate()
    assert BenchmarkSettings.from_argv(settings.to_argv()) == settings


def test_round_trip_network_settings():
    settings = BenchmarkSettings(**REQUIRED, scenario="Offline,Server", mode="both",
                                 **{k: SAMPLE[k] for k in NETWORK_ONLY})
    settings.validate()
    assert BenchmarkSettings.from_argv(settings.to_argv()).sut_servers == SAMPLE["sut_servers"]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_round_trip_each_setting(setting):
    values = dict(REQUIRED)
    values[setting.name] = SAMPLE[setting.name]
    if setting.scenarios:
        values["scenario"] = setting.scenarios[0]
    values.update(CONTEXT.get(setting.name, {}))
    if setting.type is bool:  # a switch: no value on the command line
        values["mode"] = "performance"
    settings = BenchmarkSettings(**values)
    argv = settings.to_argv()
    if setting.type is not bool:
        assert argv[argv.index(setting.flag) + 1] == (
            f"{SAMPLE[setting.name]:g}" if setting.type is float else str(SAMPLE[setting.name]))
    parsed = BenchmarkSettings.from_argv(argv)
    assert getattr(parsed, setting.name) == SAMPLE[setting.name]


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.aliases], ids=lambda s: s.name)
def test_aliases_parse_like_the_flag(setting):
    extra = ["--scenario", setting.scenarios[0]] if setting.scenarios else []
    base = [x for name, value in REQUIRED.items() if name != setting.name
            for x in ("--" + name, value)]
    if setting.type is bool:
        extra += ["--mode", "performance"]
    extra += [x for name, value in CONTEXT.get(setting.name, {}).items() for x in ("--" + name, value)]
    for spelling in setting.spellings:
        value = [] if setting.type is bool else [str(SAMPLE[setting.name])]
        parsed = BenchmarkSettings.from_argv(base + extra + [spelling] + value)
        assert str(getattr(parsed, setting.name)) == str(SAMPLE[setting.name])


def test_to_argv_only_set_values_and_canonical_flags():
    argv = BenchmarkSettings(threads=3, target_latency=2.5, scenario="SingleStream").to_argv()
    assert argv == ["--scenario", "SingleStream", "--threads", "3", "--target_latency", "2.5"]
    assert BenchmarkSettings().to_argv() == []


def test_from_argv_fills_defaults():
    parsed = BenchmarkSettings.from_argv(["--model_path", "m", "--dataset_path", "d",
                                          "--output_dir", "o"])
    for setting in SETTINGS:
        if not setting.required:
            assert getattr(parsed, setting.name) == setting.default, setting.name
    assert parsed.scenarios == ["Offline"] and parsed.modes == ["accuracy"]


def test_run_flags_are_the_launchers_benchmark_flags():
    assert [s.name for s in contract.RUN_FLAGS] == [
        "scenario", "mode", "count", "test_query_count", "max_batchsize", "threads", "target_qps",
        "offline_target_qps", "server_target_qps", "target_latency", "singlestream_target_latency",
        "multistream_target_latency", "run_style", "dataset_args", "compliance", "batch_timeout_ms", "prefetch", "network",
        "sut_servers",
        "find_peak"]


def test_spellings_and_flag():
    by_name = contract.BY_NAME
    assert by_name["threads"].spellings == ("--threads", "--num_threads")
    assert "--test-query-count" in by_name["test_query_count"].spellings
    assert by_name["target_latency"].flag == "--target_latency"


@pytest.mark.parametrize("values, message", [
    (dict(mode="fast"), "--mode 'fast': expected one of accuracy, performance, both"),
    (dict(run_style="quick"), "--run_style 'quick'"),
    (dict(backend="caffe"), "--backend 'caffe'"),
    (dict(count=0), "--count 0: must be at least 1"),
    (dict(threads=5000), "--threads 5000: is out of range (at most 4096)"),
    (dict(max_batchsize=0), "--max_batchsize 0"),
    (dict(target_qps=-1.0), "--target_qps -1: expected a positive number"),
    (dict(target_qps=float("nan")), "--target_qps nan: expected a positive number"),
    (dict(server_target_qps=float("inf"), scenario="Server"), "expected a positive number"),
    (dict(offline_target_qps=2e9), "--offline_target_qps 2e+09: is out of range"),
    (dict(target_latency=0.0, scenario="Server"), "--target_latency 0: expected a positive"),
    (dict(singlestream_target_latency=2.0), "--singlestream_target_latency applies to SingleStream, not to"),
    (dict(scenario="SingleStream", target_qps=10.0), "--target_qps applies to Offline or Server"),
    (dict(server_target_qps=5.0, scenario="Offline"), "--server_target_qps applies to Server"),
    (dict(multistream_target_latency=5.0, scenario="Offline,Server"), "applies to MultiStream"),
    (dict(prefetch="on", scenario="SingleStream,MultiStream"), "--prefetch applies to Offline or Server"),
    (dict(prefetch="sometimes"), "--prefetch 'sometimes': expected one of auto, on, off"),
    (dict(test_query_count=10, run_style="valid"), "contradicts --run_style valid"),
    (dict(dataset_args="cache"), "--dataset_args 'cache': expected key=value"),
    (dict(dataset_args="a=1,a=2"), "--dataset_args: a given twice"),
    (dict(dataset_args="a="), "--dataset_args: a needs a value"),
    (dict(scenario="Offline,Batch"), "unknown scenario 'Batch'"),
    (dict(scenario=" , "), "no scenario given"),
    (dict(count="3"), "--count '3': expected int"),
    (dict(count=True), "--count True: expected int"),
])
def test_validate_errors(values, message):
    with pytest.raises(SettingsError) as exc:
        BenchmarkSettings(**values).validate()
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_validate_accepts():
    BenchmarkSettings().validate()
    BenchmarkSettings(scenario="server,offline", target_qps=5, target_latency=3.0).validate()
    BenchmarkSettings(run_style="valid", scenario="MultiStream",
                      multistream_target_latency=50.0).validate()


def test_targets_prefer_the_scenario_flag():
    s = BenchmarkSettings(target_qps=10.0, server_target_qps=20.0, target_latency=5.0,
                          multistream_target_latency=9.0)
    assert s.targets("Offline") == (10.0, 5.0)
    assert s.targets("Server") == (20.0, 5.0)
    assert s.targets("MultiStream") == (10.0, 9.0)


def test_from_argv_usage_error_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        BenchmarkSettings.from_argv(["--model_path", "m", "--dataset_path", "d", "--output_dir",
                                     "o", "--scenario", "Server", "--offline_target_qps", "3"],
                                    prog="prog")
    assert exc.value.code == 2
    assert capsys.readouterr().err == (
        "prog: error: --offline_target_qps applies to Offline, not to the scenarios run (Server)\n")


def test_contract_imports_only_the_standard_library():
    code = ("import sys; import mlperf_harness.contract; "
            "bad = [m for m in ('numpy', 'yaml', 'PIL', 'mlperf_loadgen') if m in sys.modules]; "
            "print(bad)")
    proc = run_python(["-c", code])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


SUMMARY_SERVER = """================================================
MLPerf Results Summary
================================================
SUT name : PySUT
Scenario : Server
Mode     : PerformanceOnly
Completed samples per second    : 99.51
Scheduled samples per second : 100.02
Result is : INVALID
  Performance constraints satisfied : Yes
  Min duration satisfied : NO
  Min queries satisfied : Yes
  Early stopping satisfied: Yes
99th percentile latency (ns) : 1234567

================================================
Additional Stats
================================================
99.00 percentile latency (ns)   : 7
"""


def test_read_summary(tmp_path):
    path = tmp_path / contract.SUMMARY
    path.write_text(SUMMARY_SERVER)
    summary = read_summary(path)
    assert (summary.scenario, summary.mode, summary.validity) == ("Server", "performance", "INVALID")
    assert summary.samples_per_second == 99.51
    assert summary.scheduled_samples_per_second == 100.02
    assert (summary.latency_percentile, summary.latency_ns) == ("99", 1234567)
    assert summary.latency_ms == pytest.approx(1.234567)
    assert (summary.min_duration_met, summary.min_queries_met, summary.early_stopping_met) == \
        (False, True, True)
    assert summary.raw["SUT name"] == "PySUT"


def test_read_detail_and_accuracy(tmp_path):
    detail = tmp_path / contract.DETAIL
    detail.write_text(":::MLLOG " + json.dumps({"key": "a", "value": 1}) + "\nnoise\n"
                      ":::MLLOG " + json.dumps({"key": "a", "value": 2}) + "\n")
    assert [r["value"] for r in read_detail(detail)] == [1, 2]
    assert contract.detail_values(detail) == {"a": 1}
    acc = tmp_path / "accuracy.txt"
    acc.write_text("accuracy=75.000%, good=45, total=60\n")
    assert read_accuracy(acc) == 75.0
    acc.write_text(json.dumps({"exact_match": 75.0, "f1": 85.218}))
    assert read_accuracy(acc) == 85.218
    assert read_accuracy(tmp_path / "missing.txt") is None
    acc.write_text(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.750\n"
                   "mAP=75.000%\n")
    assert read_accuracy(acc) == 75.0
    acc.write_text("case_00000: kidney = 1.00000, tumor = 0.50000, composite = 0.75000\n"
                   "Accuracy: mean = 0.75000, kidney = 1.0000, tumor = 0.5000\n")
    assert read_accuracy(acc) == 75.0


def test_results_tree(tmp_path):
    assert contract.test_dir("r", "s", "m", "Offline", "performance") == \
        Path("r/s/m/Offline/performance/run_1")
    assert contract.test_dir("r", "s", "m", "Offline", "accuracy") == Path("r/s/m/Offline/accuracy")
    for scenario, mode in (("Server", "performance"), ("Offline", "accuracy"),
                           ("Offline", "performance")):
        folder = contract.test_dir(tmp_path, "box", "resnet50", scenario, mode)
        folder.mkdir(parents=True)
        (folder / contract.SUMMARY).write_text("")
    contract.test_dir(tmp_path, "box", "resnet50", "SingleStream", "accuracy").mkdir(parents=True)
    found = [(t.scenario, t.mode) for t in contract.find_test_dirs(tmp_path)]
    assert found == [("Offline", "accuracy"), ("Offline", "performance"),
                     ("Server", "performance")]
    assert contract.find_test_dirs(tmp_path)[0].system == "box"
