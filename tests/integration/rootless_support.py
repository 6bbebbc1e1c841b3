"""A non-root user for the rootless runtime tests: created with subordinate UID/GID ranges, running the
launcher with a Python it can execute, and a rootless docker daemon of its own."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

from launcher.spec.render import ROOT

USER = "mlperf-rootless"
SUBIDS = "300000-365535"
DOCKER_ROOTLESS = ("dockerd-rootless.sh", "/usr/share/docker.io/contrib/dockerd-rootless.sh")


@dataclass(frozen=True)
class RootlessUser:
    name: str
    uid: int
    gid: int
    home: Path
    runtime_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        """A clean environment for the user: its own cache, config and runtime folder; the project's
        code and the venv's packages on a Python it can run (the venv's may live under /root)."""
        return {"HOME": str(self.home), "USER": self.name, "LOGNAME": self.name,
                "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "XDG_RUNTIME_DIR": str(self.runtime_dir),
                "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "harness"), sysconfig.get_paths()["purelib"]]),
                "MLPERF_DOCKER_CACHE": str(self.home / "cache"), "MLPERF_DOCKER_CONFIG": str(self.home / "config.yaml"),
                "COLUMNS": "200", **extra}

    def run(self, argv: list[str], env: dict[str, str], timeout: float = 900, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["runuser", "-u", self.name, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()),
                               *argv], cwd=ROOT, capture_output=True, timeout=timeout, **kwargs)

    def mlperf_docker(self, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
        return self.run([python_for(self), "-m", "launcher.cli", *args], env, text=True)

    def folder(self, name: str) -> Path:
        path = self.home / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir()
        os.chown(path, self.uid, self.gid)
        return path


def create_user() -> RootlessUser:
    """The test user (kept between sessions: useradd is slow, and its home holds nothing of value)."""
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", USER], check=True)
        entry = pwd.getpwnam(USER)
    for table, flag in (("/etc/subuid", "--add-subuids"), ("/etc/subgid", "--add-subgids")):
        if not any(line.split(":")[0] == USER for line in Path(table).read_text().splitlines()):
            subprocess.run(["usermod", flag, SUBIDS, USER], check=True)
    # Rootless podman falls back to the slow vfs driver where the kernel's overlay is not available to
    # a user namespace: fuse-overlayfs (a Debian package setup installs) keeps the layers shared.
    storage = Path(entry.pw_dir) / ".config" / "containers" / "storage.conf"
    if not storage.exists() and shutil.which("fuse-overlayfs"):
        storage.parent.mkdir(parents=True, exist_ok=True)
        storage.write_text('[storage]\ndriver = "overlay"\n[storage.options.overlay]\n'
                           f'mount_program = "{shutil.which("fuse-overlayfs")}"\n')
        for path in (storage.parent.parent, storage.parent, storage):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    runtime_dir = Path(f"/run/user/{entry.pw_uid}")
    runtime_dir.mkdir(parents=True, exist_ok=True)
    os.chown(runtime_dir, entry.pw_uid, entry.pw_gid)
    runtime_dir.chmod(0o700)
    return RootlessUser(USER, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir), runtime_dir)


def python_for(user: RootlessUser) -> str:
    """This interpreter if the user may run it, else the system's python3 of the same version."""
    if subprocess.run(["runuser", "-u", user.name, "--", sys.executable, "-c", "pass"], capture_output=True).returncode == 0:
        return sys.executable
    system = shutil.which("python3", path="/usr/bin:/bin")
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if system is None or subprocess.run([system, "-c", f"import sys; assert '%d.%d' % sys.version_info[:2] == '{version}'"],
                                        capture_output=True).returncode != 0:
        raise RuntimeError(f"{USER} cannot run {sys.executable}, and /usr/bin/python3 is not Python {version}")
    return system


def stop_podman_pause(user: RootlessUser) -> None:
    """Rootless podman leaves a pause process holding its user namespace: end it (by its pid file)."""
    pid_file = user.runtime_dir / "libpod" / "tmp" / "pause.pid"
    try:
        os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
    except (OSError, ValueError):
        pass


class RootlessDocker:
    """dockerd-rootless.sh (rootlesskit + dockerd) for the user, on $XDG_RUNTIME_DIR/docker.sock."""

    def __init__(self, user: RootlessUser):
        self.user = user
        self.socket = user.runtime_dir / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.log = user.home / "dockerd-rootless.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> None:
        script = shutil.which(DOCKER_ROOTLESS[0]) or DOCKER_ROOTLESS[1]
        env = self.user.env()
        env["PATH"] = f"{Path(script).parent}:{env['PATH']}"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                ["runuser", "-u", self.user.name, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()),
                 script, "--data-root", str(self.user.home / "rootless-docker")],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.docker("info").returncode == 0:
                return
            time.sleep(1)
        raise RuntimeError(f"the rootless docker daemon did not answer: {self.log.read_text()[-1500:]}")

    def docker(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self.user.run(["docker", "--host", self.host, *args], self.user.env(), **kwargs)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: rootlesskit, dockerd, containerd
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
