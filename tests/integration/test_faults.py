"""Runs that cannot lie (issue 10), against the real engine: signals, a second identical run, a full
disk, `--model FILE` mounts, the container's hardening and an OOM kill.

Real signals to a real launcher process, a real tmpfs (CI runs as root), one built image (the default
onnxruntime resnet50 stand-in). Long runs are Server runs at a fixed rate (their length does not
depend on the machine's speed) and are signalled or stopped within seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from integration_support import ROOT, mlperf_docker

from launcher.run import lifecycle, owned

pytestmark = pytest.mark.docker

LONG = ("run", "--scenario", "SingleStream", "--mode", "performance", "--test_query_count", "5000000")


def start(env, out_dir: Path, *extra: str, args=LONG) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "launcher.cli", *args, "--output_dir", str(out_dir), *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def containers_of(client, pid: int) -> list[dict]:
    return client.api.containers(all=True, filters={"label": f"{owned.LABEL_PID}={pid}"})


def wait_running(client, proc: subprocess.Popen, out_dir: Path, limit: float = 120) -> dict:
    """The run's container once the harness is inside LoadGen (its detail log has started)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        found = [c for c in containers_of(client, proc.pid) if c["State"] == "running"]
        if found and any(p.stat().st_size for p in out_dir.glob("*/*/*/*/*/*/mlperf_log_detail.txt")):
            return client.api.inspect_container(found[0]["Id"])
        time.sleep(0.3)
    proc.kill()
    pytest.fail(f"no running benchmark container after {limit} s: {proc.communicate()}")


def gone(client, pid: int, limit: float = 20) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not containers_of(client, pid):
            return True
        time.sleep(0.3)
    return False


def error_lines(proc_stderr: str) -> list[str]:
    return [line for line in proc_stderr.splitlines() if line.startswith("error:")]


def the_run(out_dir: Path) -> Path:
    [run_dir] = lifecycle.run_folders(out_dir)
    return run_dir


def not_skipped(env, out_dir: Path, args=LONG) -> None:
    """The same command again starts a new run (here stopped by a short --timeout), not a skip."""
    again = mlperf_docker(env, *args, "--output_dir", str(out_dir), "--timeout", "3")
    assert "not running again" not in again.stderr, again.stderr
    assert again.returncode == 5 and error_lines(again.stderr)[-1].startswith("error: the benchmark ran past"), \
        again.stderr[-2000:]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_remove_and_mark(built_image, docker_client, cli_env, tmp_path, signum):
    out_dir = tmp_path / "results"
    proc = start(cli_env, out_dir)
    wait_running(docker_client, proc, out_dir)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, stderr[-2000:]
    assert "Traceback" not in stderr
    assert error_lines(stderr) == [f"error: stopped by {signal.Signals(signum).name}; the run in "
                                   f"{the_run(out_dir)} is incomplete"]
    assert gone(docker_client, proc.pid)
    run_dir = the_run(out_dir)
    assert not lifecycle.is_complete(run_dir)
    assert (run_dir / lifecycle.INCOMPLETE).read_text().startswith(f"interrupted ({signal.Signals(signum).name})")
    not_skipped(cli_env, out_dir)


def test_sigkill_leaves_a_container_the_next_run_reaps(built_image, docker_client, cli_env, tmp_path):
    out_dir = tmp_path / "results"
    proc = start(cli_env, out_dir)
    container = wait_running(docker_client, proc, out_dir)
    proc.kill()
    proc.communicate(timeout=30)
    run_dir = the_run(out_dir)
    assert not lifecycle.is_complete(run_dir)  # no marker yet: absence of COMPLETE is enough
    assert containers_of(docker_client, proc.pid), "the orphan is still there until the next run starts"
    not_skipped(cli_env, out_dir)  # the next `run` start reaps it
    assert not containers_of(docker_client, proc.pid)
    assert (run_dir / lifecycle.INCOMPLETE).read_text() == "launcher died\n"



def test_second_identical_run_is_refused_while_the_first_runs(built_image, docker_client, cli_env, tmp_path):
    out_dir = tmp_path / "results"
    proc = start(cli_env, out_dir)
    try:
        wait_running(docker_client, proc, out_dir)
        second = mlperf_docker(cli_env, *LONG, "--output_dir", str(out_dir))
        assert second.returncode == 8, second.stderr[-2000:]
        assert error_lines(second.stderr) == [f"error: a run of this configuration is in progress in "
                                              f"{the_run(out_dir)} (pid {proc.pid})"]
        assert len(lifecycle.run_folders(out_dir)) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


@pytest.fixture
def tmpfs(tmp_path):
    mounted = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"tmpfs-{len(mounted)}"
        folder.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> None:
    """Write a filler file until the file system is full."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for block in (65536, 4096, 1):
            try:
                while os.write(fd, b"\0" * block):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)


def test_a_full_disk_is_refused_up_front(built_image, cli_env, tmpfs):
    disk = tmpfs("1m")
    fill(disk)
    out_dir = disk / "results"
    proc = mlperf_docker(cli_env, "run", "--mode", "accuracy", "--count", "20", "--output_dir", str(out_dir))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert error_lines(proc.stderr) == [f"error: --output_dir {out_dir}: 0 B free, the run needs about 4.0 MiB"]
    assert "Traceback" not in proc.stderr
    assert [p.name for p in disk.iterdir()] == ["filler"]


def test_an_accuracy_run_on_the_users_dataset_is_sized_by_that_dataset(built_image, cli_env, tmpfs, tmp_path):
    """ImageNet's 50,000 responses (96 B each in the log) must fit besides the per-test files."""
    disk = tmpfs("6m")
    imagenet = tmp_path / "imagenet"
    imagenet.mkdir()
    (imagenet / "val_map.txt").write_text("ILSVRC2012_val_00000001.JPEG 65\n")
    out_dir = disk / "results"
    args = ("run", "--scenario", "Offline", "--mode", "accuracy", "--output_dir", str(out_dir))
    proc = mlperf_docker(cli_env, *args, "--imagenet_path", str(imagenet))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert error_lines(proc.stderr) == [f"error: --output_dir {out_dir}: 6.0 MiB free, the run needs about 8.6 MiB"]
    assert list(disk.iterdir()) == []


def test_a_disk_filled_mid_run_is_reported_and_incomplete(built_image, docker_client, cli_env, tmpfs):
    disk = tmpfs("24m")
    out_dir = disk / "results"
    # a Server run at 100 qps: about 15 s whatever the machine's speed
    proc = start(cli_env, out_dir, args=("run", "--scenario", "Server", "--mode", "performance",
                                         "--server_target_qps", "100", "--test_query_count", "1500"))
    wait_running(docker_client, proc, out_dir)
    fill(disk)
    _, stderr = proc.communicate(timeout=120)
    run_dir = the_run(out_dir)
    assert proc.returncode == 9, stderr[-2000:]
    assert "Traceback" not in stderr
    assert error_lines(stderr) == [f"error: no space left in {run_dir} (0 B free)"]
    (disk / "filler").unlink()
    assert not lifecycle.is_complete(run_dir)


def test_live_container_is_hardened_and_binds_only_the_model_file(built_image, docker_client, cli_env, tmp_path,
                                                                  cache_dir):
    [model] = cache_dir.glob("standins/resnet50-*/model/resnet50_v1.onnx")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_test").write_text("secret\n")
    shutil.copy(model, home / "model.onnx")
    (tmp_path / "link.onnx").symlink_to(home / "model.onnx")
    out_dir = tmp_path / "results"
    flags = ("--model", str(tmp_path / "link.onnx"), "--memory", "512m", "--cpus", "1", "--shm-size", "128m")
    dry = mlperf_docker(cli_env, *LONG, "--output_dir", str(out_dir), *flags, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    proc = start(cli_env, out_dir, *flags)
    try:
        info = wait_running(docker_client, proc, out_dir)
        binds = [(m["Source"], m["Destination"], m["RW"]) for m in info["Mounts"] if m["Type"] == "bind"]
        assert (str(home / "model.onnx"), "/opt/mlperf/custom-model/link.onnx", False) in binds
        assert not [b for b in binds if Path(b[0]) in (home, tmp_path)]
        listing = docker_client.containers.get(info["Id"]).exec_run(["ls", "-a", "/opt/mlperf/custom-model"])
        assert listing.output.decode().split() == [".", "..", "link.onnx"]
        host = info["HostConfig"]
        assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
        assert host["ReadonlyRootfs"] is True and "/tmp" in host["Tmpfs"] and host["PidsLimit"] > 0
        assert host["AutoRemove"] is True and host["NetworkMode"] == "none"
        assert host["Memory"] == 512 << 20 and host["NanoCpus"] == 10**9 and host["ShmSize"] == 128 << 20
        user = info["Config"]["User"]
        assert user and user.split(":")[0] != "0"
        labels = info["Config"]["Labels"]
        assert labels[owned.LABEL_PID] == str(proc.pid) and labels[owned.LABEL_OUTPUT] == str(the_run(out_dir))
        assert info["Name"] == "/" + owned.container_name(labels[owned.LABEL_RUN_ID])
        # the --dry-run line carries the same options
        for option in ("--rm", "--cap-drop ALL", "--security-opt no-new-privileges", "--read-only",
                       "--memory 512m", "--memory-swap 512m", "--cpus 1", "--shm-size 128m", "--pids-limit ",
                       f"source={home / 'model.onnx'},target=/opt/mlperf/custom-model/link.onnx,readonly"):
            assert option in dry.stdout, (option, dry.stdout)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    # files the container wrote are handed back to the output folder's owner
    assert all(p.stat().st_uid == out_dir.stat().st_uid for p in the_run(out_dir).rglob("*"))


def test_an_oom_kill_is_reported_as_such(built_image, cli_env, tmp_path):
    out_dir = tmp_path / "results"
    proc = mlperf_docker(cli_env, "run", "--mode", "accuracy", "--count", "20", "--memory", "40m",
                         "--output_dir", str(out_dir))
    assert proc.returncode == 10, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert error_lines(proc.stderr) == ["error: the container was killed for running out of memory (--memory 40m)"]
    assert not lifecycle.is_complete(the_run(out_dir))
