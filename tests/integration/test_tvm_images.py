"""The TVM images, built from the local base: the model compiled at build time in its own stage for the
target images.yaml names (labelled), then run from `mlperf-docker run`. tvm-onnx compiles the
onnxruntime stand-in (same weights, so the same known top-1) and runs every scenario. Counts are small
to keep CI short; tvm-pytorch (a 1.4 GB image: torch and TVM) and tvm-tflite are run on the host by
tests/harness/test_harness_tvm.py, whose compile step is the one the images run.
"""

from __future__ import annotations

import json
import re

import pytest
from integration_support import REPOSITORY, mlperf_docker

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

