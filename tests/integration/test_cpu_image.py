"""The CPU spine end to end: build the onnxruntime resnet50 image from the local base, run it."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from testcontainers.core.container import DockerContainer

from launcher.spec.model import DEFAULT_SPEC
from integration_support import REPOSITORY, TAG, mlperf_docker

pytestmark = pytest.mark.docker


def run_in_image(image: str, code: str) -> str:
    """Run python code in the image (entrypoint replaced) with testcontainers; return its output."""
    container = DockerContainer(image).with_kwargs(entrypoint=["python3", "-c"], network_mode="none")
    container.with_command([code])
    container.start()
    try:
        wrapped = container.get_wrapped_container()
        status = wrapped.wait(timeout=120)["StatusCode"]
        out = wrapped.logs().decode()
    finally:
        container.stop()
    assert status == 0, out
    return out


def test_image_labels_and_contents(built_image, base):
    labels = built_image.labels
    assert labels["io.mlperf-docker.framework"] == "onnxruntime"
    assert labels["io.mlperf-docker.framework.version"] == "1.32.0"
    assert labels["io.mlperf-docker.model"] == "resnet50"
    assert labels["io.mlperf-docker.artifacts"] == "standin"
    assert labels["io.mlperf-docker.base.name"] == base
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", labels["io.mlperf-docker.spec-digest"])
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", labels["org.opencontainers.image.revision"])
    out = run_in_image(TAG, (
        "import os, sys, onnxruntime, mlperf_loadgen, mlperf_harness, numpy, PIL;"
        "print(onnxruntime.__version__);"
        "print(os.path.exists('/tmp/wheels'), os.path.exists('/opt/mlperf/model/resnet50_v1.onnx'));"
        "print(len([f for f in os.listdir('/opt/mlperf/dataset') if f.endswith('.JPEG')]));"
        "import importlib.util; print(importlib.util.find_spec('pip') is None)"
    ))
    jpegs, no_pip = out.split()[-2:]
    assert "1.32.0" in out
    assert "False True" in out  # no wheels left in the final image, the model is baked
    assert int(jpegs) >= 100 and no_pip == "True"


def read_results(run_dir: Path, scenario: str):
    [scenario_dir] = run_dir.glob(f"*/resnet50/{scenario}")
    return scenario_dir


def test_every_scenario_both_modes(built_image, cli_env, tmp_path, expected_top1):
    out_dir = tmp_path / "results"
    proc = mlperf_docker(cli_env, "run", "--scenario", "Offline,Server,SingleStream,MultiStream", "--mode", "both",
                         "--output_dir", str(out_dir), "--test_query_count", "200")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [run_dir] = out_dir.iterdir()
    for scenario in ("Offline", "Server", "SingleStream", "MultiStream"):
        scenario_dir = read_results(run_dir, scenario)
        perf = scenario_dir / "performance" / "run_1"
        acc = scenario_dir / "accuracy"
        for path in (perf / "mlperf_log_summary.txt", perf / "mlperf_log_detail.txt",
                     acc / "mlperf_log_summary.txt", acc / "mlperf_log_detail.txt",
                     acc / "mlperf_log_accuracy.json", acc / "accuracy.txt", scenario_dir / "user.conf"):
            assert path.is_file(), path
            assert path.stat().st_uid == os.getuid(), path
        summary = (perf / "mlperf_log_summary.txt").read_text()
        assert re.search(rf"^Scenario : {scenario}$", summary, re.M)
        assert re.search(r"^Result is : (VALID|INVALID)$", summary, re.M)
        assert "Mode     : PerformanceOnly" in summary
        detail = (acc / "mlperf_log_detail.txt").read_text()
        assert '"key": "effective_test_mode", "value": "AccuracyOnly"' in detail
        assert f'"key": "effective_scenario", "value": "{scenario}"' in detail
        accuracy = (acc / "accuracy.txt").read_text()
        expected = f"accuracy={expected_top1['top1']:.3f}%, good={expected_top1['good']}, total={expected_top1['total']}"
        assert expected in accuracy
        assert not list(scenario_dir.rglob("mlperf_log_trace.json")) or all(
            p.stat().st_size == 0 for p in scenario_dir.rglob("mlperf_log_trace.json"))
    assert "samples/s" in proc.stdout


def test_runs_as_the_given_user_without_network(built_image, cli_env, tmp_path, expected_top1):
    out_dir = tmp_path / "results"
    proc = mlperf_docker(cli_env, "run", "--mode", "accuracy", "--count", "40", "--user", "4321:4321",
                         "--output_dir", str(out_dir))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    [run_dir] = out_dir.iterdir()
    accuracy = read_results(run_dir, "Offline") / "accuracy" / "accuracy.txt"
    assert accuracy.stat().st_uid == 4321 and accuracy.stat().st_gid == 4321
    assert "total=40" in accuracy.read_text()


def test_second_run_never_overwrites_the_first(built_image, cli_env, tmp_path):
    out_dir = tmp_path / "results"
    args = ("run", "--mode", "accuracy", "--count", "20", "--output_dir", str(out_dir))
    assert mlperf_docker(cli_env, *args).returncode == 0
    [first] = out_dir.iterdir()
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in first.rglob("*") if p.is_file()}
    # Without --rerun the seed skips a configuration that has complete results; with it, a new run.
    skipped = mlperf_docker(cli_env, *args)
    assert skipped.returncode == 0 and "not running again (use --rerun)" in skipped.stderr
    assert list(out_dir.iterdir()) == [first]
    assert mlperf_docker(cli_env, *args, "--rerun").returncode == 0
    runs = sorted(out_dir.iterdir())
    assert len(runs) == 2 and first in runs
    assert digest == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in first.rglob("*") if p.is_file()}


def test_failed_build_names_the_failing_step(built_image, cli_env, tmp_path):
    raw = yaml.safe_load(DEFAULT_SPEC.read_text())
    raw["devices"]["cpu"]["base"]["python"] = "3.12"  # the local bookworm base has 3.11
    spec = tmp_path / "images.yaml"
    spec.write_text(yaml.safe_dump(raw))
    assert mlperf_docker(cli_env, "render", "--spec", str(spec)).returncode == 0
    env = dict(cli_env, MLPERF_DOCKER_REPOSITORY=REPOSITORY + "-broken")
    proc = mlperf_docker(env, "build", "--spec", str(spec))
    assert proc.returncode == 4, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: build of {REPOSITORY}-broken/onnxruntime-cpu:resnet50-fp32-standin failed at ")
    assert "RUN python3 -c" in last and "full log:" in last
    assert "Traceback" not in proc.stderr


def test_harness_failure_keeps_partial_results_and_exits_non_zero(built_image, cli_env, tmp_path):
    out_dir = tmp_path / "results"
    # a count above the dataset is an error inside the container, after the run folder exists
    proc = mlperf_docker(cli_env, "run", "--mode", "accuracy", "--count", "100000", "--output_dir", str(out_dir))
    # the harness refuses it as a usage error (2): `run` exits with the harness's own status
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "--count 100000 exceeds the 300 samples" in proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: the benchmark exited with status 2")
    [run_dir] = out_dir.iterdir()
    assert (run_dir / "INCOMPLETE").exists()


def test_user_model_and_imagenet_mounted_read_only(built_image, cli_env, cache_dir, tmp_path, expected_top1):
    """--model and --imagenet_path: the user's files, mounted read-only, replace the baked ones."""
    [standin] = cache_dir.glob("standins/resnet50-*/")
    imagenet = tmp_path / "my imagenet"
    shutil.copytree(standin / "dataset", imagenet)
    (imagenet / "val_map.txt").write_text("".join((imagenet / "val_map.txt").read_text().splitlines(True)[:50]))
    model = tmp_path / "models" / "my-resnet50.onnx"
    model.parent.mkdir()
    shutil.copy(standin / "model" / "resnet50_v1.onnx", model)
    out_dir = tmp_path / "results"
    proc = mlperf_docker(cli_env, "run", "--imagenet_path", str(imagenet), "--model", str(model),
                         "--output_dir", str(out_dir))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    [accuracy] = out_dir.glob("*/*/resnet50/Offline/accuracy/accuracy.txt")
    assert "total=50" in accuracy.read_text()
    assert "smoke test" not in proc.stderr  # the user's data: no stand-in warning
