import pytest

from mlperf_harness.cli import parse_plan
from mlperf_harness.errors import HarnessError
from mlperf_harness.models import get_model, perf_sample_count
from mlperf_harness.plan import TestSpec, expand_modes, normalize_scenario, parse_scenarios

BASE = ["--model-path", "m.onnx", "--dataset-path", "d", "--output-dir", "o"]


@pytest.mark.parametrize("text,name", [("offline", "Offline"), ("SINGLESTREAM", "SingleStream"),
                                       ("single-stream", "SingleStream"), ("multistream", "MultiStream"),
                                       ("Server", "Server")])
def test_normalize_scenario(text, name):
    assert normalize_scenario(text) == name


def test_parse_scenarios_repeat_and_comma():
    assert parse_scenarios(["offline,SingleStream", "server", "Offline"]) == \
        ["Offline", "SingleStream", "Server"]
    with pytest.raises(HarnessError):
        parse_scenarios(["offline,nope"])


def test_modes():
    assert expand_modes("both") == ["accuracy", "performance"]
    assert expand_modes("performance") == ["performance"]


def test_cli_defaults():
    plan = parse_plan(BASE)
    assert plan.model == "resnet50" and plan.backend == "onnxruntime" and plan.device == "cpu"
    assert plan.scenarios == ["Offline"] and plan.modes == ["accuracy"]
    assert plan.count is None and plan.max_batchsize == 32 and plan.run_style == "test"
    assert plan.test_query_count == 500


def test_cli_full():
    plan = parse_plan(BASE + ["--scenario", "offline", "--scenario", "singlestream,Server",
                              "--mode", "both", "--count", "10", "--max-batchsize", "8",
                              "--threads", "2", "--run-style", "valid", "--target-qps", "12.5",
                              "--target-latency-ms", "3", "--system", "box1"])
    assert plan.scenarios == ["Offline", "SingleStream", "Server"]
    assert plan.modes == ["accuracy", "performance"]
    assert (plan.count, plan.max_batchsize, plan.threads) == (10, 8, 2)
    assert (plan.target_qps, plan.target_latency_ms, plan.system) == (12.5, 3.0, "box1")


@pytest.mark.parametrize("extra", [["--scenario", "bogus"], ["--count", "0"], ["--mode", "x"],
                                   ["--target-qps", "-1"], ["--model", "sdxl-turbo"]])
def test_cli_bad_arguments_exit_2(extra, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_plan(BASE + extra)
    assert exc.value.code == 2


def test_models_table():
    assert get_model("bert-99.9").loadgen_key == "bert"
    assert get_model("resnet50").loadgen_key == "resnet50"
    assert perf_sample_count(get_model("resnet50"), 50000) == 1024
    assert perf_sample_count(get_model("resnet50"), 60) == 60
    assert perf_sample_count(get_model("3d-unet-99"), 43) == 43


def test_spec_json_roundtrip():
    spec = TestSpec(model="resnet50", backend="onnxruntime", device="cpu", model_path="m",
                    dataset_path="d", scenario="Offline", mode="accuracy", total_count=5,
                    perf_count=5, max_batchsize=4, threads=None, user_conf="u", test_dir="t")
    assert TestSpec.from_json(spec.to_json()) == spec
