"""The TVM images, built from the local base: the model compiled at build time in its own stage for the
target images.yaml names (labelled), then run from `mlperf-docker run`. tvm-onnx compiles the
onnxruntime stand-in (same weights, so the same known top-1), tvm-pytorch (pytorch's CPU environment
layer, shared, plus TVM's) the pytorch stand-in and tvm-tflite the tflite stand-in, each run in every
scenario (accuracy mode; the performance runs are the harness's, covered on the host by
tests/harness/test_harness_tvm.py); `--tvm-target` builds an image apart whose run a CPU lacking the
target is refused. Counts are small to keep CI short.
"""

from __future__ import annotations

import json
import re

import pytest
from integration_support import REPOSITORY, mlperf_docker

from mlperf_harness.backends import tvm_target

pytestmark = pytest.mark.docker

SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream")
COUNT = 40


def _known(cache_dir, name: str, count: int) -> str:
    [path] = cache_dir.glob(f"standins/{name}-*/expected.json")
    info = json.loads(path.read_text())
    # The stand-ins spread their correct samples evenly: any prefix of `count` has round(count * f).
    good = int(count * info["top1"] / 100 + 0.5)
    return f"accuracy={100 * good / count:.3f}%, good={good}, total={count}"


def _build_and_run(cli_env, tmp_path, variation: str, scenarios, mode: str):
    proc = mlperf_docker(cli_env, "build", "--variation", variation)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out_dir = tmp_path / "results"
    proc = mlperf_docker(cli_env, "run", "--variation", variation, "--scenario", ",".join(scenarios),
                         "--mode", mode, "--count", str(COUNT), "--output_dir", str(out_dir))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [run_dir] = out_dir.iterdir()
    return proc, run_dir


def _accuracy(run_dir, scenario: str) -> str:
    [folder] = run_dir.glob(f"*/resnet50/{scenario}/accuracy")
    return (folder / "accuracy.txt").read_text().strip()


def test_tvm_onnx_compiled_at_build_runs_every_scenario(base, docker_client, cli_env, cache_dir, tmp_path):
    # Accuracy mode only (one container test per scenario): the performance runs are the harness's,
    # covered on the host by tests/harness/test_harness_tvm.py.
    proc, run_dir = _build_and_run(cli_env, tmp_path, "_tvm-onnx,_cpu,_resnet50", SCENARIOS, "accuracy")
    image = docker_client.images.get(f"{REPOSITORY}/tvm-onnx-cpu:resnet50-fp32-standin")
    assert image.labels["io.mlperf-docker.tvm-target"] == "llvm"
    known = _known(cache_dir, "resnet50", COUNT)
    for scenario in SCENARIOS:
        assert known in _accuracy(run_dir, scenario), scenario
        [detail] = run_dir.glob(f"*/resnet50/{scenario}/accuracy/mlperf_log_detail.txt")
        assert f'"key": "effective_scenario", "value": "{scenario}"' in detail.read_text()
    # The harness ran the executable the image compiled (not a compile at load).
    described = re.findall(r"^backend for .*$", proc.stdout, re.M)
    assert len(described) == 4 and all("target llvm (compiled at image build)" in d for d in described)



def _compiled_image_runs_every_scenario(docker_client, cli_env, cache_dir, tmp_path, framework: str,
                                        standin: str, frontend: str = "") -> None:
    """`framework`'s resnet50 image (compiled at build for the default target) in every scenario, with
    its stand-in's known top-1, each test running the executable the image compiled."""
    proc, run_dir = _build_and_run(cli_env, tmp_path, f"_{framework},_cpu,_resnet50", SCENARIOS, "accuracy")
    image = docker_client.images.get(f"{REPOSITORY}/{framework}-cpu:resnet50-fp32-standin")
    assert image.labels["io.mlperf-docker.tvm-target"] == "llvm"
    known = _known(cache_dir, standin, COUNT)
    for scenario in SCENARIOS:
        assert known in _accuracy(run_dir, scenario), scenario
    described = re.findall(r"^backend for .*$", proc.stdout, re.M)
    assert len(described) == 4 and all(frontend in d and "compiled at image build" in d
                                       for d in described), described


def test_tvm_pytorch_compiled_at_build_on_pytorchs_layer(docker_client, cli_env, cache_dir, tmp_path):
    """tvm-pytorch's image: pytorch's CPU environment layer (extends: pytorch) plus TVM in a layer of its
    own; the pytorch stand-in's state_dict compiled through torch.export at build time, then every
    scenario with that stand-in's known top-1."""
    _compiled_image_runs_every_scenario(docker_client, cli_env, cache_dir, tmp_path, "tvm-pytorch",
                                        "resnet50_pytorch", "(tvm-pytorch frontend)")


def test_tvm_tflite_compiled_at_build_runs_every_scenario(docker_client, cli_env, cache_dir, tmp_path):
    """tvm-tflite's image: the tflite stand-in compiled by TVM's TFLite frontend at build time (its fixed
    batch of one caps the batches), every scenario with that stand-in's known top-1."""
    _compiled_image_runs_every_scenario(docker_client, cli_env, cache_dir, tmp_path, "tvm-tflite",
                                        "resnet50_tflite")


def test_tvm_target_flag_builds_apart_and_a_cpu_lacking_it_is_refused(docker_client, cli_env, tmp_path):
    """--tvm-target naming a feature this CPU lacks (chosen from /proc/cpuinfo now): the compile stage
    builds it into an image tagged and labelled apart (the default image stays), and its run is refused
    in one line before anything is written. (A target this CPU has runs on the host:
    tests/harness/test_harness_tvm.py.)"""
    flags = tvm_target.host_flags()
    assert flags is not None, "no /proc/cpuinfo flags on this host"
    lacks = next((f for f in ("sse4a", "xop", "fma4", "amx-fp16", "avx512vp2intersect", "avx512fp16",
                              "amx-tile", "avx512f", "avx2") if tvm_target.cpuinfo_flag(f) not in flags), None)
    assert lacks, "this CPU has every candidate feature"
    variation, target = "_tvm-onnx,_cpu,_resnet50", f"llvm -mattr=+{lacks}"
    proc = mlperf_docker(cli_env, "build", "--variation", variation, "--tvm-target", target)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tag = f"{REPOSITORY}/tvm-onnx-cpu:resnet50-fp32-standin-{tvm_target.tag_suffix(target)}"
    assert proc.stdout.strip().splitlines()[-1] == tag  # never the default image's tag
    assert docker_client.images.get(tag).labels["io.mlperf-docker.tvm-target"] == target
    out_dir = tmp_path / "out"
    proc = mlperf_docker(cli_env, "run", "--variation", variation, "--tvm-target", target,
                         "--output_dir", str(out_dir))
    assert proc.returncode == 2 and not out_dir.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and f"which needs CPU features this CPU lacks ({lacks};" in errors[0], proc.stderr
