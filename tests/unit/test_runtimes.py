"""--runtime docker|podman|apptainer: the exact command lines each runtime gets from the same plan
(rootful and rootless, NVIDIA and AMD), the setting's cascade, and the SIF recipe."""

from __future__ import annotations

import os
import shlex
from dataclasses import replace
from pathlib import Path

import pytest

from launcher import settings as cfg
from launcher.cli.sif import recipe
from launcher.engine import make_engine
from launcher.engine.apptainer_engine import ApptainerEngine, exec_argv, sif_name
from launcher.engine.base import BuildRequest
from launcher.engine.docker_engine import DockerEngine
from launcher.engine.podman_engine import PodmanEngine
from launcher.errors import UsageError
from launcher.run.container import ContainerSpec, Mount
from launcher.run.devices import check_host, passthrough
from launcher.run.options import RunOptions
from launcher.run.plan import make_plan
from launcher.session import Session
from launcher.spec.model import load_spec
from launcher.spec.variation import parse_variation
from unit_support import cli

SPEC = load_spec()


def session_with(engine) -> Session:
    return Session(cfg.Settings(spec=SPEC, config=cfg.UserConfig(), cache=Path("/nonexistent")), engine)


def line(engine, tmp_path, variation=None, **options) -> list[str]:
    session = session_with(engine)
    plan = make_plan(session, parse_variation(variation, SPEC), RunOptions.of(output_dir=tmp_path, **options),
                     dev_root=Path("/nonexistent-dev"))
    return shlex.split(plan.docker_run_line())


@pytest.fixture
def as_user(monkeypatch):
    """The launcher run by UID 1000 (GID 1000), not root."""
    for name in ("geteuid", "getuid", "getgid"):
        monkeypatch.setattr(os, name, lambda: 1000)


def test_podman_rootful_runs_the_docker_flags(tmp_path):
    argv = line(PodmanEngine(cli="/usr/bin/podman"), tmp_path)
    docker = line(DockerEngine(cli="/usr/bin/docker"), tmp_path)
    assert argv[:2] == ["podman", "run"] and "--userns" not in argv
    mask = lambda a: [x for x in a if not x.startswith(("io.mlperf-docker.launcher-", "mlperf-docker-", "io.mlperf-docker.run-id"))]  # noqa: E731
    assert mask(argv[1:]) == mask(docker[1:])  # the same flags: one ContainerSpec
    assert argv[argv.index("--user") + 1] in ("65534:65534", f"{tmp_path.stat().st_uid}:{tmp_path.stat().st_gid}")


def test_podman_rootless_keeps_the_users_id(tmp_path, as_user):
    argv = line(PodmanEngine(cli="podman"), tmp_path)
    assert argv[:8] == ["podman", "run", "--rm", "--network", "none", "--userns", "keep-id", "--user"]
    assert argv[8] == "1000:1000"
    assert ["--cap-drop", "ALL"] == argv[argv.index("--cap-drop"):argv.index("--cap-drop") + 2]
    assert "--read-only" in argv and argv[argv.index("--pids-limit") + 1] == "4096"


def test_rootless_docker_runs_as_the_daemons_root(tmp_path, as_user):
    engine = DockerEngine(cli="docker")
    engine._rootless = True  # what `docker info` of a rootless daemon says (SecurityOptions name=rootless)
    argv = line(engine, tmp_path)
    assert argv[argv.index("--user") + 1] == "0:0" and "--userns" not in argv
    assert line(engine, tmp_path, user="4321:4321")[line(engine, tmp_path).index("--user") + 1] == "4321:4321"
    engine._rootless = False
    assert line(engine, tmp_path)[line(engine, tmp_path).index("--user") + 1] == "1000:1000"


def test_nvidia_on_podman_is_a_cdi_device(tmp_path):
    argv = line(PodmanEngine(cli="podman"), tmp_path, "_cuda")
    assert "--gpus" not in argv
    assert argv[argv.index("--device") + 1] == "nvidia.com/gpu=all"
    assert passthrough("cuda", "0, 2", runtime="podman").devices == ("nvidia.com/gpu=0", "nvidia.com/gpu=2")
    assert passthrough("cuda", "0", runtime="docker").gpus == "0"  # docker keeps its device request


def test_amd_on_podman(tmp_path, as_user):
    rootful = passthrough("rocm", None, dev_root=tmp_path, runtime="podman")
    assert rootful.devices == (f"{tmp_path}/kfd:/dev/kfd", f"{tmp_path}/dri:/dev/dri")
    assert rootful.group_add == ("video", "render")
    argv = line(PodmanEngine(cli="podman"), tmp_path, "_rocm")
    pairs = list(zip(argv, argv[1:]))
    assert ("--device", "/nonexistent-dev/kfd:/dev/kfd") in pairs and ("--device", "/nonexistent-dev/dri:/dev/dri") in pairs
    assert ("--group-add", "keep-groups") in pairs  # rootless: the user's own groups, not host gids
    assert ("--security-opt", "seccomp=unconfined") in pairs and ("--ipc", "host") in pairs


def test_podman_cuda_needs_a_cdi_spec(tmp_path):
    options = passthrough("cuda", None, runtime="podman")
    with pytest.raises(UsageError, match="nvidia-ctk cdi generate"):
        check_host("cuda", options, {}, runtime="podman", cdi_dirs=(tmp_path,))
    (tmp_path / "nvidia.yaml").write_text("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n")
    check_host("cuda", options, {}, runtime="podman", cdi_dirs=(tmp_path,))


def test_podman_build_command(tmp_path):
    request = BuildRequest(context=tmp_path, dockerfile=tmp_path / "x.Dockerfile", target="resnet50", tag="r/x:y",
                           build_args={"BASE_IMAGE": "b", "A": "1"}, no_cache=True)
    assert PodmanEngine(cli="podman").build_command(request) == [
        "podman", "build", "--file", f"{tmp_path}/x.Dockerfile", "--target", "resnet50", "--tag", "r/x:y",
        "--network", "none", "--no-cache", "--build-arg", "A=1", "--build-arg", "BASE_IMAGE=b", str(tmp_path)]


def test_apptainer_exec_line_of_the_default_plan(tmp_path, as_user):
    engine = ApptainerEngine(tmp_path / "sif")
    argv = line(engine, tmp_path)
    sif = str(tmp_path / "sif" / "mlperf-docker_onnxruntime-cpu_resnet50-fp32-standin.sif")
    i = argv.index(sif)
    assert argv[:7] == ["apptainer", "exec", "--containall", "--no-home", "--net", "--network", "none"]
    assert argv[i - 2:i] == ["--pwd", "/tmp"] and argv[i + 1:i + 4] == ["python3", "-m", "mlperf_harness"]
    [bind] = [argv[j + 1] for j, a in enumerate(argv) if a == "--bind"]
    assert bind.startswith(str(tmp_path.resolve())) and bind.endswith(":/results")
    assert "--nv" not in argv and "--rocm" not in argv and "HOME=/tmp" not in argv
    assert "--user" not in argv and "--cap-drop" not in argv  # apptainer runs as the user, unprivileged


def test_apptainer_gpus_binds_and_limits():
    spec = ContainerSpec(image="r/x:y", command=["--scenario", "Offline"], gpus="0,2",
                         mounts=[Mount("/m/model.onnx", "/custom/model.onnx", read_only=True), Mount("/out", "/results")],
                         environment={"HOME": "/tmp", "NVIDIA_DRIVER_CAPABILITIES": "compute,utility"},
                         mem_limit="8g", cpus="2")
    assert exec_argv(spec, Path("/s/x.sif")) == [
        "apptainer", "exec", "--containall", "--no-home", "--net", "--network", "none", "--nv",
        "--bind", "/m/model.onnx:/custom/model.onnx:ro", "--bind", "/out:/results",
        "--env", "CUDA_VISIBLE_DEVICES=0,2", "--env", "NVIDIA_DRIVER_CAPABILITIES=compute,utility",
        "--memory", "8g", "--cpus", "2", "--pwd", "/tmp", "/s/x.sif",
        "python3", "-m", "mlperf_harness", "--scenario", "Offline"]
    rocm = replace(spec, gpus=None, devices=["/dev/kfd", "/dev/dri/renderD129:/dev/dri/renderD129"],
                   mem_limit=None, cpus=None, environment={})
    argv = exec_argv(rocm, Path("/s/x.sif"))
    assert "--rocm" in argv and "--nv" not in argv and argv[argv.index("--env") + 1] == "ROCR_VISIBLE_DEVICES=1"


def test_apptainer_builds_nothing(tmp_path):
    engine = ApptainerEngine(tmp_path)
    assert engine.image_info("r/x:y") is None
    (tmp_path / sif_name("r/x:y")).write_bytes(b"sif")
    assert engine.image_info("r/x:y").size == 3


def test_runtime_cascade(monkeypatch, tmp_path):
    monkeypatch.delenv("MLPERF_DOCKER_RUNTIME", raising=False)
    config = cfg.UserConfig()
    assert cfg.runtime(None, config) == "docker"
    assert cfg.runtime(None, cfg.UserConfig(runtime="apptainer")) == "apptainer"
    monkeypatch.setenv("MLPERF_DOCKER_RUNTIME", "podman")
    assert cfg.runtime(None, cfg.UserConfig(runtime="apptainer")) == "podman"
    assert cfg.runtime("docker", config) == "docker"
    with pytest.raises(UsageError, match=r"--runtime 'lxc': expected one of docker, podman, apptainer"):
        cfg.runtime("lxc", config)
    settings = cfg.Settings(spec=SPEC, config=cfg.UserConfig(sif_dir=str(tmp_path)), cache=tmp_path, runtime="apptainer")
    engine = make_engine(settings)
    assert isinstance(engine, ApptainerEngine) and engine.sif_dir == tmp_path
    assert isinstance(make_engine(replace(settings, runtime="podman")), PodmanEngine)
    assert isinstance(make_engine(replace(settings, runtime="docker")), DockerEngine)


def test_runtime_on_the_command_line(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("runtime: podman\n")
    env = {"MLPERF_DOCKER_CONFIG": str(config), "MLPERF_DOCKER_RUNTIME": None}  # (None: unset)
    proc = cli("run", "--dry-run", "--output_dir", tmp_path, env=env)
    assert proc.returncode == 0 and proc.stdout.startswith("podman run "), proc.stderr
    proc = cli("run", "--dry-run", "--runtime", "apptainer", "--output_dir", tmp_path, env=env)
    assert proc.returncode == 0 and proc.stdout.startswith("apptainer exec --containall --no-home "), proc.stderr
    bad = cli("run", "--dry-run", "--runtime", "lxc", "--output_dir", tmp_path, env=env)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "error: --runtime 'lxc': expected one of docker, podman, apptainer"]
    assert not list(tmp_path.glob("*/"))  # nothing written


def test_sif_recipe():
    assert recipe(["r_x_y.sif"]).splitlines()[-2:] == ['cd "$(dirname "$0")"',
                                                       "apptainer build r_x_y.sif docker-archive://r_x_y.tar"]
