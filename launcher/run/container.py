"""One description of a benchmark container, rendered both as SDK arguments and as a `docker run` line.

`run` hands to_sdk() to the docker SDK; `run --dry-run` prints to_cli(): the two cannot drift apart.
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
        args.append(self.image)
        args += self.command
        return shlex.join(args)

    def to_sdk(self) -> dict:
        from docker.types import DeviceRequest, Mount as SdkMount

        kwargs: dict = {
            "image": self.image,
            "command": self.command,
            "network_mode": self.network,
            "environment": dict(self.environment),
            "mounts": [SdkMount(m.target, m.source, type="bind", read_only=m.read_only) for m in self.mounts],
            "detach": True,
        }
        if self.name:
            kwargs["name"] = self.name
        if self.user:
            kwargs["user"] = self.user
        if self.gpus:
            if self.gpus == "all":
                kwargs["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
            else:
                ids = [g.strip() for g in self.gpus.split(",")]
                kwargs["device_requests"] = [DeviceRequest(device_ids=ids, capabilities=[["gpu"]])]
        if self.devices:
            kwargs["devices"] = [f"{d}:rwm" if ":" in d else f"{d}:{d}:rwm" for d in self.devices]
        if self.group_add:
            kwargs["group_add"] = list(self.group_add)
        if self.security_opt:
            kwargs["security_opt"] = list(self.security_opt)
        if self.ipc_mode:
            kwargs["ipc_mode"] = self.ipc_mode
        if self.shm_size:
            kwargs["shm_size"] = self.shm_size
        return kwargs
