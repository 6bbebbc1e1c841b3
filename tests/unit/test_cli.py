"""The command line as a user meets it: exit codes, one-line errors, no tracebacks."""

import json
import shutil

import pytest

from launcher.spec.model import DEFAULT_SPEC, load_spec
from unit_support import cli


@pytest.mark.parametrize("args, message", [
    (["run", "--variation", "_cpu,_cuda"], "error: _cpu and _cuda both choose the device; pick one"),
    (["run", "--variation", "_resnet5"], "error: unknown variation '_resnet5' (did you mean _resnet50?)"),
    (["build", "--variation", "_batch_size.x"], "error: malformed '_batch_size.x'"),
    (["run", "--variation", "_tflite,_rocm"], "error: unsupported combination _rocm,_tflite,_resnet50,_fp32: TFLite runs on the CPU"),
    (["build", "--variation", "_tpu"], "error: unsupported combination _tpu,_onnxruntime,_resnet50,_fp32:"),
    (["run", "--scenario", "Batch", "--dry-run"], "error: --scenario 'Batch'"),
    (["run", "--variation", "_offline", "--scenario", "Server", "--dry-run"], "error: --scenario Server contradicts the variation _offline"),
    (["run", "--mode", "fast", "--dry-run"], "error: --mode 'fast'"),
    (["build", "--base", "cpu"], "error: --base expects DEVICE=IMAGE"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    proc = cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(message)
    assert "Traceback" not in proc.stderr + proc.stdout


def test_broken_spec_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "images.yaml"
    path.write_text(DEFAULT_SPEC.read_text().replace("python: \"3.11\"", "python: three", 1))
    proc = cli("list", "--spec", str(path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {path}: devices.cpu.base.python: expected String should match pattern '^3\\.\\d+$'"


def test_list_json_matches_the_spec():
    proc = cli("list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    spec = load_spec()
    assert len(rows) == len(spec.matrix()) + len(spec.precision_refusals())  # + per-device precision refusals
    supported = [(r["framework"], r["device"], r["model"]) for r in rows if r["supported"]]
    assert ("onnxruntime", "cpu", "resnet50") in supported
    assert all(r["reason"] for r in rows if not r["supported"])
    assert next(r for r in rows if r["supported"])["image"] == "mlperf-docker/onnxruntime-cpu:resnet50-fp32"
    # every row carries what re-checking its resolution needs (issue 9)
    tf_rocm = next(r for r in rows if (r["framework"], r["device"], r["model"]) == ("tf", "rocm", "resnet50"))
    assert tf_rocm["supported"] and tf_rocm["base"] == "docker.io/rocm/dev-ubuntu-22.04:6.0.2"
    assert (tf_rocm["python"], tf_rocm["platform"], tf_rocm["glibc"]) == ("3.10", "linux/amd64", "2.35")
    assert "numpy==1.26.4" in tf_rocm["requirements"] and "tensorflow-rocm==2.14.0.600" in tf_rocm["requirements"]
    torch_cpu = next(r for r in rows if (r["framework"], r["device"]) == ("pytorch", "cpu"))
    assert torch_cpu["index_urls"] == ["https://pypi.org/simple", "https://download.pytorch.org/whl/cpu"]
    assert all(set(r) >= {"base", "python", "platform", "glibc", "requirements", "index_urls"} for r in rows)


def test_list_table_and_variations():
    proc = cli("list")
    assert proc.returncode == 0 and "supported" in proc.stdout and "refused" in proc.stdout
    proc = cli("list", "--variations", "--json")
    groups = json.loads(proc.stdout)
    assert "_resnet50" in groups["model"] and "_tensorflow" in groups["framework"] and "_quantized" in groups["precision"]


def test_render_check(tmp_path):
    assert cli("render", "--check").returncode == 0
    spec = tmp_path / "images.yaml"
    shutil.copy(DEFAULT_SPEC, spec)
    proc = cli("render", "--check", "--spec", str(spec))
    assert proc.returncode == 1 and "onnxruntime-cpu.Dockerfile (missing)" in proc.stderr
    assert "onnxruntime-cuda.Dockerfile (missing)" in proc.stderr
    assert cli("render", "--spec", str(spec)).returncode == 0
    assert cli("render", "--check", "--spec", str(spec)).returncode == 0


def test_dry_run_prints_a_docker_run_line():
    proc = cli("run", "--dry-run", "--scenario", "Offline", "--count", "10")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("docker run --rm --network none --user ")
    assert "mlperf-docker/onnxruntime-cpu:resnet50-fp32-standin --model resnet50" in proc.stdout


@pytest.mark.parametrize("command", [["build"], ["run", "--output_dir", "{tmp}/out"]])
def test_unreachable_engine_is_one_line_exit_3_and_writes_nothing(tmp_path, command):
    import os

    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp_path}/no-such.sock")
    proc = cli(*[c.format(tmp=tmp_path) for c in command], env=env)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: cannot reach the docker engine")
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


def test_list_says_what_a_model_needs_from_the_user():
    """dlrm's real data and weights are user mounts (torchrec not packaged); rnnt is retired."""
    out = " ".join(cli("list").stdout.split())
    assert "dlrm-99: the real dataset (Criteo multi-hot, TBs) and weights (97 GB torchsnapshot) are never baked" in out
    assert "torchrec and fbgemm-gpu, not packaged" in out
    assert "rnnt: retired from MLPerf inference: current submission checkers (v5.x, v6.x) do not accept it" in out
    rows = json.loads(cli("list", "--json").stdout)
    assert next(r for r in rows if r["model"] == "rnnt")["note"].startswith("retired")
    assert all(r["note"] is None for r in rows if r["model"] == "resnet50")
