"""One description of a benchmark container, rendered both as SDK arguments and as a `docker run` line.

`run` hands it to the engine (launcher/engine/docker_engine.sdk_arguments); `run --dry-run` prints
to_cli(): the two are written side by side and tested against each other.
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

    def to_cli(self, docker: str = "docker") -> str:
        args = [docker, "run", "--rm"]
        if self.name:
            args += ["--name", self.name]
        args += ["--network", self.network]
        if self.user:
            args += ["--user", self.user]
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
            args += ["--memory", self.mem_limit]
        args.append(self.image)
        args += self.command
        return shlex.join(args)
