"""One description of a benchmark container, rendered both as SDK arguments and as a `docker run` line.

`run` hands it to the engine (launcher/engine/docker_engine.sdk_arguments for docker; podman runs
to_argv("podman") itself, apptainer its own rendering); `run --dry-run` prints to_cli(): the forms are
written side by side and tested against each other.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class Port:
    """A published port: the host address and port, and the container's (TCP)."""

    host_ip: str
    host_port: int
    container_port: int

    @property
    def cli(self) -> str:
        host = f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip
        return f"{host}:{self.host_port}:{self.container_port}"


@dataclass(frozen=True)
class ContainerSpec:
    image: str
    command: list[str]
    mounts: list[Mount] = field(default_factory=list)
    user: str | None = None
    network: str = "none"
    environment: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    # GPU and device passthrough (filled by the device layer for _cuda / _rocm).
    gpus: str | None = None  # "all" or a comma-separated list of device ids (NVIDIA)
    devices: list[str] = field(default_factory=list)  # HOST or HOST:CONTAINER, as `docker run --device`
    group_add: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    ipc_mode: str | None = None
    shm_size: str | None = None
    mem_limit: str | None = None  # e.g. "8g": the container's memory limit
    cpus: str | None = None  # e.g. "1.5": docker's --cpus (NanoCpus)
    # What the launcher owns, and the hardening every benchmark container gets (launcher/run/hardening.py).
    labels: dict[str, str] = field(default_factory=dict)
    auto_remove: bool = True  # `docker run --rm`: gone once it exits, even if the launcher is killed
    cap_drop: list[str] = field(default_factory=list)
    read_only: bool = False  # the root file system
    tmpfs: dict[str, str] = field(default_factory=dict)  # path -> mount options
    pids_limit: int | None = None
    userns: str | None = None  # podman's --userns (keep-id: a rootless run's files stay the user's)
    ports: list[Port] = field(default_factory=list)  # `serve` only: every other container has no network

    def to_cli(self, docker: str = "docker") -> str:
        return shlex.join(self.to_argv(docker))

    def to_argv(self, docker: str = "docker", verb: str = "run") -> list[str]:
        """The `docker run` (or `podman run`: the same flags) argument list."""
        args = [docker, verb] + (["--rm"] if self.auto_remove else [])
        args += ["--network", self.network]
        if self.userns:
            args += ["--userns", self.userns]
        if self.user:
            args += ["--user", self.user]
        if self.name:
            args += ["--name", self.name]
        for key, value in sorted(self.labels.items()):
            args += ["--label", f"{key}={value}"]
        for cap in self.cap_drop:
            args += ["--cap-drop", cap]
        if self.read_only:
            args.append("--read-only")
        for path, options in self.tmpfs.items():
            args += ["--tmpfs", f"{path}:{options}" if options else path]
        if self.pids_limit is not None:
            args += ["--pids-limit", str(self.pids_limit)]
        for port in self.ports:
            args += ["--publish", port.cli]
        for mount in self.mounts:
            spec = f"type=bind,source={mount.source},target={mount.target}"
            args += ["--mount", spec + (",readonly" if mount.read_only else "")]
        for key, value in sorted(self.environment.items()):
            args += ["--env", f"{key}={value}"]
        if self.gpus:
            args += ["--gpus", self.gpus if self.gpus == "all" else f'"device={self.gpus}"']
        for device in self.devices:
            args += ["--device", device]
        for group in self.group_add:
            args += ["--group-add", group]
        for opt in self.security_opt:
            args += ["--security-opt", opt]
        if self.ipc_mode:
            args += ["--ipc", self.ipc_mode]
        if self.shm_size:
            args += ["--shm-size", self.shm_size]
        if self.mem_limit:
            args += ["--memory", self.mem_limit, "--memory-swap", self.mem_limit]
        if self.cpus:
            args += ["--cpus", self.cpus]
        args.append(self.image)
        return args + self.command
