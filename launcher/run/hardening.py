"""Container hardening by default, and the resource limits a user may set.

Every benchmark container drops every capability, cannot gain privileges (no-new-privileges), has a
read-only root file system with a tmpfs on /tmp (HOME), a pids limit, and never runs as root: when
the launcher runs as root and no --user is given, it runs as the owner of the output folder, or as
65534:65534 (nobody) when that owner is root, and the run folder is handed back to the output
folder's owner afterwards. `--memory` (no swap on top), `--cpus` and `--shm-size` set docker's limits.

GPU runs add only what their vendor requires: CUDA a device request and
NVIDIA_DRIVER_CAPABILITIES; ROCm /dev/kfd and /dev/dri, their groups, seccomp=unconfined and ipc host
(launcher/run/devices.py).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from launcher.run.diskspace import existing_parent
from launcher.errors import UsageError

NOBODY = "65534:65534"
TMPFS_SIZE = "1g"
PIDS_LIMIT = 4096
MIN_MEMORY = 6 << 20  # docker refuses less
_SIZE = re.compile(r"[1-9][0-9]*([bkmg]?)")
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_SIZE_HELP = "(a number with an optional b, k, m or g)"


def size_bytes(text: str) -> int | None:
    """docker's size syntax (512m, 2g, 1048576; binary units) -> bytes, or None if malformed."""
    match = _SIZE.fullmatch(text.strip().lower())
    return int(text.strip()[:-1] if match[1] else text.strip()) * _UNITS[match[1]] if match else None


def check_memory(value: str) -> str | None:
    """--memory (a LaunchOption check): why the value is bad, or None."""
    size = size_bytes(value)
    if size is None:
        return f"expected a size such as 8g or 512m {_SIZE_HELP}"
    return "docker needs at least 6m" if size < MIN_MEMORY else None


def check_shm_size(value: str) -> str | None:
    return None if size_bytes(value) is not None else f"expected a size such as 16g or 512m {_SIZE_HELP}"


def check_cpus(value: str) -> str | None:
    available = os.cpu_count() or 1
    try:
        cpus = float(value)
    except ValueError:
        return "expected a number of CPUs such as 2 or 1.5"
    if not math.isfinite(cpus) or not 0.01 <= cpus <= available:
        return f"expected a number from 0.01 to {available} (this host's CPUs)"
    return None


@dataclass(frozen=True)
class Hardening:
    """The options every benchmark container gets; the plan carries them into its ContainerSpec."""

    cap_drop: tuple[str, ...] = ("ALL",)
    security_opt: tuple[str, ...] = ("no-new-privileges",)
    read_only: bool = True
    tmpfs: tuple[tuple[str, str], ...] = (("/tmp", f"rw,nosuid,nodev,size={TMPFS_SIZE},mode=1777"),)
    pids_limit: int = PIDS_LIMIT


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


def rootless_user(user: str, explicit: str | None, runtime: str, rootless: bool) -> tuple[str, str | None]:
    """(the container's user, podman's --userns) on a rootless engine, where a UID inside the container is
    not the same UID outside. Rootless podman keeps the user's id (`--userns keep-id`). A rootless docker
    daemon maps the container's root to the user who started it, and every other UID to subordinate ids
    the user cannot own: the container runs as 0:0 there (the invoking user on the host, all capabilities
    dropped, no new privileges). An explicit --user is kept."""
    if not rootless:
        return user, None
    if runtime == "podman":
        return user, "keep-id"
    if runtime == "docker" and explicit is None:
        return "0:0", None
    return user, None


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
def oom_message(memory: str | None) -> str:
    limit = f"--memory {memory}" if memory else "no --memory limit: the host ran out"
    return f"the container was killed for running out of memory ({limit})"
