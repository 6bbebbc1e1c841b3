"""Disk checks, hardening options, container ownership and host-side checks (issue 10 helpers)."""

from __future__ import annotations

import errno
import math
import os
import shlex
import signal
import socket
from pathlib import Path

import pytest

from launcher.engine.base import ContainerSummary
from launcher.run import diskspace, hardening, hostcheck, lifecycle, owned
from launcher.errors import UsageError
from launcher.spec.model import load_spec
from launcher.errors import DiskError, NotEnoughSpace


# ---- disk ------------------------------------------------------------------------------------------
def test_estimate_grows_with_tests_and_the_user_datasets_samples():
    perf = diskspace.estimate("resnet50", 1, "performance", None, 50000)
    assert perf == diskspace.PER_TEST
    assert diskspace.estimate("resnet50", 2, "both", 100, 50000) == 4 * diskspace.PER_TEST + 2 * 100 * 96
    assert diskspace.estimate("bert-99", 1, "accuracy", 10, 10833) == diskspace.PER_TEST + 10 * 6 * 1024
    # No --count: the accuracy test scores the whole dataset; a --count above its size scores it once.
    assert diskspace.estimate("sdxl", 1, "accuracy", None, 5000) == diskspace.PER_TEST + 5000 * (6 << 20)
    assert diskspace.estimate("3d-unet-99", 1, "accuracy", 1000, 43) == diskspace.PER_TEST + 43 * (8 << 20)


def test_a_standin_run_needs_only_the_per_test_allowance():
    """The CI failure this guards: a stand-in sdxl run was refused for 'needing' 18 GiB of real-size log."""
    for model in ("sdxl", "3d-unet-99", "resnet50"):
        assert diskspace.estimate(model, 3, "both", None, None) == 6 * diskspace.PER_TEST
        assert diskspace.estimate(model, 1, "accuracy", 20, None) == diskspace.PER_TEST


def test_every_dataset_declares_its_size():
    spec = load_spec()
    assert spec.datasets["imagenet"].samples == 50000 and spec.datasets["kits19"].samples == 43
    assert all(spec.datasets[model.dataset].samples > 0 for model in spec.models.values())


def test_preflight_refuses_with_the_folder_and_its_free_space(tmp_path, monkeypatch):
    monkeypatch.setattr(diskspace.shutil, "disk_usage", lambda p: type("Usage", (), {"free": 1536})())
    with pytest.raises(NotEnoughSpace) as info:
        diskspace.preflight(tmp_path / "new" / "deeper", 4 << 20)
    assert str(info.value) == f"--output_dir {tmp_path / 'new' / 'deeper'}: 1.5 KiB free, the run needs about 4.0 MiB"
    assert info.value.exit_code == 2
    assert not (tmp_path / "new").exists()


def test_write_guard_names_the_folder(tmp_path):
    with pytest.raises(DiskError, match=rf"^no space left in {tmp_path} \(.* free\)$") as info:
        with diskspace.write_guard(tmp_path):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert info.value.exit_code == 9
    with pytest.raises(DiskError, match=rf"^{tmp_path} is on a read-only file system$"):
        with diskspace.write_guard(tmp_path):
            raise OSError(errno.EROFS, "Read-only file system")
    with pytest.raises(PermissionError):
        with diskspace.write_guard(tmp_path):
            raise PermissionError(errno.EACCES, "denied")


def test_diagnose_blames_a_full_disk_only(tmp_path, monkeypatch):
    assert diskspace.diagnose(tmp_path) is None
    monkeypatch.setattr(diskspace, "free_space", lambda p: 0)
    assert diskspace.diagnose(tmp_path) == f"no space left in {tmp_path} (0 B free)"


# ---- hardening -------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, size", [("512m", 512 << 20), ("2g", 2 << 30), ("1048576", 1 << 20),
                                        ("64k", 64 << 10), ("lots", None), ("0", None), ("1.5g", None)])
def test_sizes(text, size):
    assert hardening.size_bytes(text) == size


@pytest.mark.parametrize("check, value, why", [
    (hardening.check_memory, "lots", "expected a size such as 8g or 512m"),
    (hardening.check_memory, "1m", "docker needs at least 6m"),
    (hardening.check_cpus, "0", "expected a number from 0.01 to"),
    (hardening.check_cpus, "nan", "expected a number from 0.01 to"),
    (hardening.check_cpus, "two", "expected a number of CPUs"),
    (hardening.check_cpus, str((os.cpu_count() or 1) + 1), "expected a number from 0.01 to"),
    (hardening.check_shm_size, "-1", "expected a size such as 16g or 512m"),
])
def test_bad_limits_say_why(check, value, why):
    assert check(value).startswith(why)


def test_good_limits_pass():
    assert hardening.check_memory("40m") is None and hardening.check_cpus("0.5") is None
    assert hardening.check_shm_size("16g") is None


def test_the_hardened_container_renders_the_same_for_the_sdk_and_the_cli():
    from launcher.engine.docker_engine import sdk_arguments
    from launcher.run.container import ContainerSpec

    h = hardening.Hardening()
    spec = ContainerSpec(image="img", command=["--x"], user="1000:1000", cap_drop=list(h.cap_drop),
                         security_opt=["seccomp=unconfined", *h.security_opt], read_only=h.read_only,
                         tmpfs=dict(h.tmpfs), pids_limit=h.pids_limit, mem_limit="256m", cpus="1.5", shm_size="1g",
                         name="mlperf-docker-r1", labels={owned.LABEL_RUN_ID: "r1"})
    sdk = sdk_arguments(spec)
    assert sdk["cap_drop"] == ["ALL"] and sdk["security_opt"] == ["seccomp=unconfined", "no-new-privileges"]
    assert sdk["read_only"] is True and "/tmp" in sdk["tmpfs"] and sdk["pids_limit"] == hardening.PIDS_LIMIT
    assert sdk["mem_limit"] == sdk["memswap_limit"] == "256m" and sdk["nano_cpus"] == 1_500_000_000
    assert sdk["shm_size"] == "1g" and sdk["auto_remove"] is True and sdk["name"] == "mlperf-docker-r1"
    assert sdk["labels"] == {owned.LABEL_RUN_ID: "r1"}
    argv = shlex.split(spec.to_cli())
    assert argv[:3] == ["docker", "run", "--rm"]
    for flag, value in (("--cap-drop", "ALL"), ("--pids-limit", str(hardening.PIDS_LIMIT)), ("--memory", "256m"),
                        ("--memory-swap", "256m"), ("--cpus", "1.5"), ("--shm-size", "1g"),
                        ("--name", "mlperf-docker-r1"), ("--label", f"{owned.LABEL_RUN_ID}=r1")):
        assert argv[argv.index(flag) + 1] == value
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--security-opt"] == sdk["security_opt"]
    assert "--read-only" in argv and argv[argv.index("--tmpfs") + 1] == "/tmp:" + sdk["tmpfs"]["/tmp"]
    assert "--rm" not in ContainerSpec(image="img", command=[], auto_remove=False).to_cli()


def test_the_container_never_runs_as_root(tmp_path, monkeypatch):
    with pytest.raises(UsageError, match="never runs as root"):
        hardening.container_user("0:0", tmp_path)
    assert hardening.container_user("4321:4321", tmp_path) == ("4321:4321", False)
    monkeypatch.setattr(hardening.os, "geteuid", lambda: 0)
    monkeypatch.setattr(hardening, "owner", lambda p: (0, 0))
    assert hardening.container_user(None, tmp_path) == (hardening.NOBODY, True)
    monkeypatch.setattr(hardening, "owner", lambda p: (1000, 100))
    assert hardening.container_user(None, tmp_path / "not-yet") == ("1000:100", True)
    monkeypatch.setattr(hardening.os, "geteuid", lambda: 1000)
    assert hardening.container_user(None, tmp_path) == (f"{os.getuid()}:{os.getgid()}", False)


def test_oom_message():
    assert hardening.oom_message("40m") == \
        "the container was killed for running out of memory (--memory 40m)"


# ---- owned containers ------------------------------------------------------------------------------
class FakeEngine:
    """What the reaper uses of a ContainerEngine."""

    def __init__(self, containers):
        self.listed = [ContainerSummary(name * 2, name, labels) for name, labels in containers]
        self.removed = []

    def labelled_containers(self, label):
        assert label == owned.LABEL_RUN_ID
        return self.listed

    def remove_container(self, container_id):
        self.removed.append(container_id[: len(container_id) // 2])


def test_reaper_removes_orphans_and_marks_their_runs(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / lifecycle.RUN_RECORD).write_text("{}")
    gone = os.fork()
    if gone == 0:
        os._exit(0)
    os.waitpid(gone, 0)
    mine = owned.labels("r1", tmp_path / "mine")
    orphan = dict(owned.labels("r2", run_dir), **{owned.LABEL_PID: str(gone)})
    remote = dict(orphan, **{owned.LABEL_HOST: "elsewhere"})
    said = []
    client = FakeEngine([("mlperf-docker-r2", orphan), ("mlperf-docker-r1", mine), ("mlperf-docker-r3", remote)])
    assert owned.reap(client, said.append) == ["mlperf-docker-r2"]
    assert client.removed == ["mlperf-docker-r2"]
    assert (run_dir / lifecycle.INCOMPLETE).read_text() == "launcher died\n"
    assert said == [f"removed the container mlperf-docker-r2 of a run whose launcher died ({run_dir} is incomplete)"]


def test_labels_and_name(tmp_path):
    run_id = owned.new_run_id(tmp_path / "20260101-000000-onnxruntime-cpu-resnet50")
    assert owned.container_name(run_id).startswith("mlperf-docker-20260101-000000-onnxruntime-cpu-resnet50-")
    labels = owned.labels(run_id, tmp_path)
    assert labels[owned.LABEL_PID] == str(os.getpid()) and labels[owned.LABEL_HOST] == socket.gethostname()
    assert labels[owned.LABEL_OUTPUT] == str(tmp_path) and owned.launcher_alive(labels)
    assert not owned.launcher_alive(dict(labels, **{owned.LABEL_STARTED: "1"}))  # a reused pid


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_act_like_ctrl_c_and_mark_the_run(tmp_path, signum):
    before = signal.getsignal(signum)
    with pytest.raises(owned.Terminated) as info:
        with owned.guarded_run(tmp_path):
            os.kill(os.getpid(), signum)
            for _ in range(1000):
                pass
    assert isinstance(info.value, KeyboardInterrupt)
    assert owned.exit_status(info.value) == 128 + signum
    assert (tmp_path / lifecycle.INCOMPLETE).read_text().startswith(f"interrupted ({signal.Signals(signum).name})")
    assert signal.getsignal(signum) == before
    assert owned.exit_status(KeyboardInterrupt()) == 130


# ---- host-side checks ------------------------------------------------------------------------------
def test_host_checks():
    from launcher.run.options import _hw_name, _output_dir, _timeout

    assert _output_dir("").startswith("expected a folder") and _output_dir(" ") and _output_dir("out") is None
    for bad in (-5.0, 0.0, math.nan, math.inf):
        assert _timeout(bad) == "expected a finite number of seconds > 0"
    assert _timeout(1.5) is None
    assert _hw_name("ci box") is None and _hw_name("") is None  # '' means the host name, as before
    for bad in ("..", ".hidden", "-x", "../etc"):
        assert _hw_name(bad).startswith("expected a plain name")


def test_dataset_args_are_checked_against_the_harness_table():
    hostcheck.dataset_args("resnet50", "layout=NHWC,cache_dir=/tmp/x")
    with pytest.raises(UsageError, match=r"unknown key 'vocab_file' for the imagenet dataset \(known: cache_dir, layout\)"):
        hostcheck.dataset_args("resnet50", "vocab_file=v.txt")
    with pytest.raises(UsageError, match="expected key=value"):
        hostcheck.dataset_args("bert-99", "vocab_file")
    with pytest.raises(UsageError, match="given twice"):
        hostcheck.dataset_args("bert-99", "cache_dir=a,cache_dir=b")


def test_model_binds_the_resolved_file_only(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "weights.bin"
    target.write_bytes(b"x")
    link = tmp_path / "model.onnx"
    link.symlink_to(target)
    bind = hostcheck.model_file(link, "/opt/mlperf/custom-model")
    assert bind == hostcheck.FileBind(target.resolve(), "/opt/mlperf/custom-model/model.onnx")
    with pytest.raises(UsageError, match="no such file"):
        hostcheck.model_file(tmp_path / "missing.onnx", "/m")
    with pytest.raises(UsageError, match="not a file"):
        hostcheck.model_file(tmp_path / "real", "/m")


# ---- child processes -------------------------------------------------------------------------------
def test_index_urls_travel_in_the_environment():
    from launcher.build import child

    env = child.pip_environment("https://u:token@pypi.lab/simple", ["https://a/simple", ""], "/ca.pem", base={})
    assert env == {"PIP_INDEX_URL": "https://u:token@pypi.lab/simple", "PIP_EXTRA_INDEX_URL": "https://a/simple",
                   "PIP_CERT": "/ca.pem", "REQUESTS_CA_BUNDLE": "/ca.pem"}


def test_a_child_dies_with_its_launcher(tmp_path):
    import subprocess
    import sys
    import time

    pidfile = tmp_path / "child.pid"
    sleeper = tmp_path / "sleeper.py"
    sleeper.write_text(f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n")
    script = tmp_path / "launcher.py"
    script.write_text(f"import sys\nsys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
                      "from launcher.build.child import run_child\n"
                      f"run_child([sys.executable, {str(sleeper)!r}])\n")
    launcher = subprocess.Popen([sys.executable, str(script)], stderr=subprocess.DEVNULL)
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text():
            break
        time.sleep(0.1)
    child_pid = int(pidfile.read_text())
    launcher.send_signal(signal.SIGTERM)
    assert launcher.wait(10) != 0
    for _ in range(50):
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the pip child outlived the launcher's SIGTERM")


def test_an_interrupt_outside_a_run_is_one_line_with_the_signals_status(capsys):
    import typer

    from launcher.cli.common import handled

    @handled
    def command():
        raise owned.Terminated(signal.SIGTERM)

    with pytest.raises(typer.Exit) as info:
        command()
    assert info.value.exit_code == 143
    assert capsys.readouterr().err.strip() == "error: interrupted (SIGTERM); nothing already written was removed"
