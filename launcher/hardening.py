"""Container hardening by default, and the resource limits a user may set.

Every benchmark container drops every capability, cannot gain privileges (no-new-privileges), has a
read-only root file system with a tmpfs on /tmp (HOME), a pids limit, and never runs as root: when
the launcher runs as root and no --user is given, it runs as the owner of the output folder, or as
65534:65534 (nobody) when that owner is root, and the run folder is handed back to the output
folder's owner afterwards. `--memory`, `--cpus` and `--shm-size` set docker's limits.

GPU runs add only what their vendor requires (launcher/devices.py): CUDA a device request and
NVIDIA_DRIVER_CAPABILITIES; ROCm /dev/kfd and /dev/dri, their groups, seccomp=unconfined and ipc host.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .diskspace import existing_parent
from .errors import UsageError

NOBODY = "65534:65534"
TMPFS_SIZE = "1g"
PIDS_LIMIT = 4096
MIN_MEMORY = 6 << 20  # docker refuses less
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmg]?)(?:i?b)?\s*$", re.I)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(flag: str, text: str | None, minimum: int = 1) -> int | None:
    """docker's size syntax (512m, 2g, 1048576; binary units) -> bytes; one-line error otherwise."""
    if text is None:
        return None
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"{flag} {text!r}: expected a size such as 512m or 2g")
    size = int(float(match[1]) * _UNITS[match[2].lower()])
    if size < minimum:
        raise UsageError(f"{flag} {text!r}: expected at least {minimum // (1 << 20) or minimum}"
                         f"{'m' if minimum >= 1 << 20 else ' bytes'}")
    return size


def parse_cpus(text: str | float | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--cpus {text!r}: expected a number of CPUs such as 2 or 1.5") from None
    available = os.cpu_count() or 1
    if not math.isfinite(value) or value < 0.01 or value > available:
        raise UsageError(f"--cpus {text}: expected a number from 0.01 to {available} (this host's CPUs)")
    return value


@dataclass(frozen=True)
class Limits:
    memory: int | None = None  # bytes
    cpus: float | None = None
    shm_size: int | None = None  # bytes

    @classmethod
    def parse(cls, memory: str | None, cpus: str | None, shm_size: str | None) -> "Limits":
        return cls(memory=parse_size("--memory", memory, MIN_MEMORY), cpus=parse_cpus(cpus),
                   shm_size=parse_size("--shm-size", shm_size))


@dataclass(frozen=True)
class Hardening:
    """The options every benchmark container gets, rendered for the SDK and for a `docker run` line
    (--shm-size is rendered by the container spec, which GPU runs also set)."""

    cap_drop: tuple[str, ...] = ("ALL",)
    security_opt: tuple[str, ...] = ("no-new-privileges",)
    read_only: bool = True
    tmpfs: dict[str, str] = field(default_factory=lambda: {"/tmp": f"rw,nosuid,nodev,size={TMPFS_SIZE},mode=1777"})
    pids_limit: int = PIDS_LIMIT
    limits: Limits = Limits()

    def cli(self) -> list[str]:
        args: list[str] = []
        for cap in self.cap_drop:
            args += ["--cap-drop", cap]
        for opt in self.security_opt:
            args += ["--security-opt", opt]
        if self.read_only:
            args.append("--read-only")
        for path, options in self.tmpfs.items():
            args += ["--tmpfs", f"{path}:{options}" if options else path]
        args += ["--pids-limit", str(self.pids_limit)]
        if self.limits.memory is not None:
            args += ["--memory", str(self.limits.memory)]
        if self.limits.cpus is not None:
            args += ["--cpus", f"{self.limits.cpus:g}"]
        return args  # --shm-size is the container spec's own option (ContainerSpec.shm_size)

    def sdk(self) -> dict:
        kwargs: dict = {"cap_drop": list(self.cap_drop), "security_opt": list(self.security_opt),
                        "read_only": self.read_only, "tmpfs": dict(self.tmpfs), "pids_limit": self.pids_limit}
        if self.limits.memory is not None:
            kwargs["mem_limit"] = self.limits.memory
            kwargs["memswap_limit"] = self.limits.memory  # no swap on top: the limit is the limit
        if self.limits.cpus is not None:
            kwargs["nano_cpus"] = int(round(self.limits.cpus * 1e9))
        return kwargs


# ---- the container's user -----------------------------------------------------------------------
def owner(path: Path) -> tuple[int, int]:
    st = existing_parent(path).stat()
    return st.st_uid, st.st_gid


def container_user(explicit: str | None, output_dir: Path) -> tuple[str, bool]:
    """(UID:GID the container runs as, whether the launcher must hand the run folder back).

    `--user` is taken as given (never 0); a non-root launcher runs the container as itself; a root
    launcher as the output folder's owner, or as nobody when that owner is root."""
    if explicit is not None:
        uid, _, gid = explicit.partition(":")
        if not uid.isdigit() or (gid and not gid.isdigit()):
            raise UsageError(f"--user {explicit!r}: expected UID or UID:GID (numbers)")
        if int(uid) == 0:
            raise UsageError(f"--user {explicit}: the benchmark container never runs as root")
        return explicit, False
    if os.geteuid() != 0:
        return f"{os.getuid()}:{os.getgid()}", False
    uid, gid = owner(output_dir)
    return (NOBODY if uid == 0 else f"{uid}:{gid}"), True


def prepare_run_dir(run_dir: Path, user: str) -> None:
    """Let the container's user write the run folder (root launcher only)."""
    uid, _, gid = user.partition(":")
    if os.geteuid() == 0 and int(uid) != os.getuid():
        os.chown(run_dir, int(uid), int(gid or uid))


def hand_back(run_dir: Path, output_dir: Path) -> None:
    """chown -R the run folder to the output folder's owner (a root launcher ran the container as
    someone else); best effort, symlinks are not followed."""
    if os.geteuid() != 0:
        return
    uid, gid = owner(output_dir)
    for path in [run_dir, *run_dir.rglob("*")]:
        try:
            os.chown(path, uid, gid, follow_symlinks=False)
        except OSError:
            pass


# ---- what killed the container ------------------------------------------------------------------
def oom_message(limits: Limits) -> str:
    limit = f"--memory {limits.memory // (1 << 20)}m" if limits.memory else "no --memory limit: the host ran out"
    return f"the container was killed for running out of memory ({limit})"
