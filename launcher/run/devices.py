"""GPU passthrough: the container options each device needs, and a check that the host can give them."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from launcher.errors import UsageError

CDI_NVIDIA = "nvidia.com/gpu"  # the CDI device kind `nvidia-ctk cdi generate` writes
CDI_DIRS = (Path("/etc/cdi"), Path("/var/run/cdi"))
ROCM_GROUPS = ("video", "render")  # names used when the host's device files are not there to read gids from


@dataclass(frozen=True)
class Passthrough:
    gpus: str | None = None
    devices: tuple[str, ...] = ()
    group_add: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    ipc_mode: str | None = None
    environment: dict[str, str] = field(default_factory=dict)


def passthrough(device: str, gpus: str | None, dev_root: Path = Path("/dev"), runtime: str = "docker",
                rootless: bool = False) -> Passthrough:
    """Options for `device`; `gpus` selects GPUs (NVIDIA_VISIBLE_DEVICES-style list, or render nodes).

    podman takes NVIDIA GPUs as CDI devices (`--device nvidia.com/gpu=all`, from `nvidia-ctk cdi
    generate`) rather than docker's device request, and a rootless podman passes the user's own groups
    on (`--group-add keep-groups`: the host's numeric gids are not mapped into its user namespace)."""
    if device == "cuda":
        options = _cuda(gpus)
        if runtime == "podman":
            ids = options.gpus.split(",") if options.gpus != "all" else ["all"]
            options = replace(options, gpus=None, devices=tuple(f"{CDI_NVIDIA}={i}" for i in ids))
        return options
    if device == "rocm":
        options = _rocm(gpus, dev_root)
        if runtime == "podman" and rootless:
            options = replace(options, group_add=("keep-groups",))
        return options
    if gpus:
        raise UsageError(f"--gpus {gpus}: the {device} device has no GPUs to select (use _cuda or _rocm)")
    return Passthrough()


def _cuda(gpus: str | None) -> Passthrough:
    selection = _gpu_list(gpus) if gpus and gpus != "all" else "all"
    return Passthrough(gpus=selection, environment={"NVIDIA_DRIVER_CAPABILITIES": "compute,utility"})


def _gpu_list(gpus: str) -> str:
    items = [g.strip() for g in gpus.split(",")]
    if not all(re.fullmatch(r"\d+|GPU-[0-9a-fA-F-]+|MIG-[0-9a-zA-Z/-]+", g) for g in items):
        raise UsageError(f"--gpus {gpus!r}: expected all, or a comma list of GPU indices or UUIDs")
    return ",".join(items)


def _rocm(gpus: str | None, dev_root: Path) -> Passthrough:
    kfd = dev_root / "kfd"
    if gpus and gpus != "all":
        nodes = []
        for item in (g.strip() for g in gpus.split(",")):
            if re.fullmatch(r"\d+", item):
                item = f"renderD{128 + int(item)}"
            if not re.fullmatch(r"renderD\d+", item):
                raise UsageError(f"--gpus {gpus!r}: expected all, GPU indices or render nodes (renderD128)")
            nodes.append(dev_root / "dri" / item)
        # Only the chosen render nodes are visible: isolation, unlike HIP_VISIBLE_DEVICES.
        mapped = [_map(kfd, "/dev/kfd")] + [_map(n, f"/dev/dri/{n.name}") for n in nodes]
        files = [kfd, *nodes]
    else:
        mapped = [_map(kfd, "/dev/kfd"), _map(dev_root / "dri", "/dev/dri")]
        files = [kfd, *sorted((dev_root / "dri").glob("renderD*"))]
    gids = sorted({str(p.stat().st_gid) for p in files if p.exists()})
    return Passthrough(
        devices=tuple(mapped),
        # The host's numeric gids of /dev/kfd and the render nodes: group names differ between host and image.
        group_add=tuple(gids) if gids else ROCM_GROUPS,
        security_opt=("seccomp=unconfined",),
        ipc_mode="host",
    )


def _map(host: Path, container: str) -> str:
    return str(host) if str(host) == container else f"{host}:{container}"


def check_host(device: str, options: Passthrough, engine_info: dict, runtime: str = "docker",
               cdi_dirs: tuple[Path, ...] = CDI_DIRS) -> None:
    """Fail with one line when the host cannot give the device what it needs (skipped by --dry-run)."""
    if device == "cuda" and runtime == "podman":
        if not any(f.is_file() and CDI_NVIDIA in f.read_text(errors="replace")
                   for d in cdi_dirs if d.is_dir() for f in sorted(d.iterdir())):
            raise UsageError("_cuda with podman needs a CDI spec of the NVIDIA GPUs, and /etc/cdi has none "
                             "(install the NVIDIA Container Toolkit, run `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`)")
    elif device == "cuda" and runtime == "docker":
        runtimes = engine_info.get("Runtimes") or {}
        if "nvidia" not in runtimes:
            raise UsageError("_cuda needs the NVIDIA container runtime, and `docker info` lists none "
                             "(install the NVIDIA Container Toolkit, run `nvidia-ctk runtime configure`, restart dockerd)")
    if device == "rocm":
        for mapping in options.devices:
            host = mapping.split(":", 1)[0]
            if not os.path.exists(host):
                raise UsageError(f"_rocm needs {host} on the host, and it is missing (is the amdgpu driver loaded?)")
