"""CUDA and ROCm images build here on the local base, swapped in through the users' override (--base).

There is no GPU here: the images are built, their framework is imported and its GPU provider listed;
running them is covered down to the container options in test_gpu_options.py.
"""

from __future__ import annotations

import json

import pytest
from integration_support import BASE, REPOSITORY, mlperf_docker

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("device, version, provider", [
    ("cuda", "1.31.1", "CUDAExecutionProvider"),
    ("rocm", "1.22.2", "ROCMExecutionProvider"),
])
def test_gpu_image_builds_on_a_local_base(docker_client, cli_env, device, version, provider):
    proc = mlperf_docker(cli_env, "build", "--variation", f"_onnxruntime,_{device}",
                         "--base", f"{device}={BASE},python=3.11")
    assert proc.returncode == 0, proc.stderr[-3000:]
    tag = f"{REPOSITORY}/onnxruntime-{device}:resnet50-fp32-standin"
    image = docker_client.images.get(tag)
    assert image.labels["io.mlperf-docker.device"] == device
    assert image.labels["io.mlperf-docker.framework.version"] == version
    assert image.labels["io.mlperf-docker.base.name"] == BASE
    out = docker_client.containers.run(
        tag, entrypoint=["python3", "-c"], network_mode="none", remove=True,
        command=["import json, onnxruntime as o; print(json.dumps([o.__version__, o.get_available_providers()]))"])
    got_version, providers = json.loads(out.decode().strip().splitlines()[-1])
    assert got_version == version and provider in providers


def test_stage_writes_a_context_bake_can_build(cli_env, tmp_path):
    out = tmp_path / "ctx"
    proc = mlperf_docker(cli_env, "stage", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "Dockerfile").is_file() and (out / "wheels" / "requirements.txt").is_file()
    assert (out / "models" / "resnet50" / "resnet50_v1.onnx").is_file()
    assert (out / "harness" / "mlperf_harness" / "__main__.py").is_file()
    args = json.loads((out / "build-args.json").read_text())
    assert args["BASE_IMAGE"] == BASE and args["PYTHON_VERSION"] == "3.11"
    again = mlperf_docker(cli_env, "stage", "--out", str(out))
    assert again.returncode == 2 and "exists and is not empty" in again.stderr


def test_onnxruntime_float16_image_carries_the_model_converted_at_build(docker_client, cli_env, cache_dir):
    """`_float16` on the onnxruntime cuda image: the converter stage converts the baked model (onnx and
    onnxconverter-common in that stage only). No GPU here: the image's harness runs the converted model on
    onnxruntime's CPU EP, which gives the fp32 stand-in's known top-1."""
    variation = "_onnxruntime,_cuda,_resnet50,_float16"
    proc = mlperf_docker(cli_env, "build", "--variation", variation, "--base", f"cuda={BASE},python=3.11")
    assert proc.returncode == 0, proc.stderr[-3000:]
    tag = f"{REPOSITORY}/onnxruntime-cuda:resnet50-float16-standin"
    count = 40
    script = ("python3 -m mlperf_harness --model resnet50 --backend onnxruntime --device cpu --precision float16 "
              "--model_path /opt/mlperf/model/resnet50_v1.onnx --dataset_path /opt/mlperf/dataset "
              f"--output_dir /tmp/out --scenario Offline --mode accuracy --count {count} >/dev/null "
              "&& cat /tmp/out/*/resnet50/Offline/accuracy/accuracy.txt "
              "&& python3 -c 'import onnx' 2>&1 | tail -1")
    out = docker_client.containers.run(tag, entrypoint=["sh", "-c"], command=[script], network_mode="none",
                                       remove=True).decode()
    [expected] = cache_dir.glob("standins/resnet50-*/expected.json")
    good = int(count * json.loads(expected.read_text())["top1"] / 100 + 0.5)
    assert f"accuracy={100 * good / count:.3f}%, good={good}, total={count}" in out, out
    assert "No module named 'onnx'" in out  # the converter's packages stay in its own stage
