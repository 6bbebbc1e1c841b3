import shlex

import pytest

from launcher.run.devices import Passthrough, check_host, passthrough
from launcher.errors import UsageError


def test_cpu_has_no_gpu_options():
    assert passthrough("cpu", None) == Passthrough()
    with pytest.raises(UsageError, match="--gpus 0: the cpu device has no GPUs"):
        passthrough("cpu", "0")


def test_cuda_all_and_selected():
    assert passthrough("cuda", None).gpus == "all"
    assert passthrough("cuda", "all").gpus == "all"
    assert passthrough("cuda", "0, 2").gpus == "0,2"
    assert passthrough("cuda", "GPU-1b2c3d4e-aaaa-bbbb-cccc-000000000000").gpus.startswith("GPU-")
    with pytest.raises(UsageError, match="expected all, or a comma list"):
        passthrough("cuda", "first")


def test_rocm_without_device_files_uses_group_names(tmp_path):
    opts = passthrough("rocm", None, dev_root=tmp_path)
    assert opts.devices == (f"{tmp_path}/kfd:/dev/kfd", f"{tmp_path}/dri:/dev/dri")
    assert opts.group_add == ("video", "render")
    assert opts.security_opt == ("seccomp=unconfined",) and opts.ipc_mode == "host"
    assert passthrough("rocm", None).devices == ("/dev/kfd", "/dev/dri")


def test_rocm_selected_render_nodes_and_numeric_gids(tmp_path):
    (tmp_path / "dri").mkdir()
    for name in ("kfd", "dri/renderD128", "dri/renderD129"):
        (tmp_path / name).write_text("")
    opts = passthrough("rocm", "1", dev_root=tmp_path)
    assert opts.devices == (f"{tmp_path}/kfd:/dev/kfd", f"{tmp_path}/dri/renderD129:/dev/dri/renderD129")
    assert opts.group_add == (str((tmp_path / "kfd").stat().st_gid),)
    with pytest.raises(UsageError, match="render nodes"):
        passthrough("rocm", "card0", dev_root=tmp_path)


def test_host_checks():
    with pytest.raises(UsageError, match="NVIDIA container runtime"):
        check_host("cuda", passthrough("cuda", None), {"Runtimes": {"runc": {}}})
    check_host("cuda", passthrough("cuda", None), {"Runtimes": {"runc": {}, "nvidia": {}}})
    with pytest.raises(UsageError, match="_rocm needs /nonexistent/kfd"):
        check_host("rocm", Passthrough(devices=("/nonexistent/kfd:/dev/kfd",)), {})


def test_dry_run_lines_for_gpus(tmp_path):
    from launcher.run import execute as run_mod
    from launcher.session import Session
    from launcher.spec.variation import parse_variation

    session = Session.open()
    line = run_mod.dry_run(session, parse_variation("_cuda", session.spec),
                           run_mod.RunOptions.of(scenarios=("Offline",), output_dir=tmp_path, gpus="0,1"))
    argv = shlex.split(line)
    assert argv[argv.index("--gpus") + 1] == '"device=0,1"'
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in argv
    assert "mlperf-docker/onnxruntime-cuda:resnet50-fp32-standin" in argv
    line = run_mod.dry_run(session, parse_variation("_rocm", session.spec),
                           run_mod.RunOptions.of(scenarios=("Offline",), output_dir=tmp_path))
    for part in ("--device /dev/kfd", "--device /dev/dri", "--security-opt seccomp=unconfined", "--ipc host"):
        assert part in line
