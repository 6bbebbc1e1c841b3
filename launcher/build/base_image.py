"""Create a local Debian base image (debootstrap + docker import) for machines that cannot pull."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from launcher.console import say
from launcher.errors import EngineError, UsageError

DEFAULT_TAG = "mlperf-docker/debian:bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-venv")
# Left out of the image: package caches and lists (the image never runs apt).
_PRUNE = ("var/cache/apt/archives", "var/lib/apt/lists", "var/log")


def create(tag: str = DEFAULT_TAG, suite: str = "bookworm", mirror: str = DEFAULT_MIRROR,
           cli: str = "docker", workdir: Path | None = None, log=say) -> None:
    debootstrap = shutil.which("debootstrap") or ("/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None)
    if debootstrap is None:
        raise UsageError("debootstrap is not installed (Debian/Ubuntu: apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise UsageError("creating a base image needs root (debootstrap builds a root filesystem)")
    with tempfile.TemporaryDirectory(prefix="mlperf-base-", dir=workdir) as tmp:
        rootfs = Path(tmp) / "rootfs"
        log(f"debootstrap {suite} ({', '.join(PACKAGES)}) from {mirror}")
        proc = subprocess.run(
            [debootstrap, "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, str(rootfs), mirror],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            lines = [l for l in (proc.stderr + proc.stdout).splitlines() if l.strip()]
            raise UsageError(f"debootstrap failed: {lines[-1] if lines else proc.returncode}")
        for rel in _PRUNE:
            for child in (rootfs / rel).glob("*"):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                elif child.name != "lock":
                    child.unlink(missing_ok=True)
        log(f"importing {rootfs} as {tag}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [cli, "import", "--change", "ENV LANG=C.UTF-8", "--change", 'CMD ["/bin/bash"]', "-", tag],
            stdin=tar.stdout, capture_output=True, text=True,
        )
        assert tar.stdout is not None
        tar.stdout.close()
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            detail = (imported.stderr or "").strip().splitlines()
            raise EngineError(f"{Path(cli).name} import of {tag} failed: {detail[-1] if detail else 'tar failed'}")
