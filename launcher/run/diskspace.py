"""Disk space: a pre-flight estimate, and ENOSPC/EROFS turned into one line naming the folder.

Before anything is written, `preflight` compares what a run needs (a fixed allowance per test plus
the accuracy log's size per sample of the user's dataset) with the free space of the output folder's
file system. While the launcher writes (run folder, run.json, COMPLETE, the lock), `write_guard` turns
"no space left" and "read-only file system" into a DiskError; after the container exits, `diagnose`
tells a harness failure caused by a full or read-only disk from any other.
"""

from __future__ import annotations

import errno
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from launcher.errors import DiskError, NotEnoughSpace

# Summary, detail log, user.conf, measurements.json: a few KB each, with headroom. A generated stand-in's
# whole accuracy log (at most a few hundred tiny samples) also fits in it.
PER_TEST = 4 << 20
# mlperf_log_accuracy.json holds each response as hex (2 chars a byte) plus ~60 bytes of JSON.
PER_SAMPLE = {"resnet50": 96, "retinanet": 64 * 1024, "bert": 6 * 1024, "3d-unet": 8 << 20,
              "dlrm": 8 * 1024, "gptj": 1024, "llama2": 4096, "rnnt": 1024, "sdxl": 6 << 20}
LOW = 64 * 1024  # below this much free space after a failure, the disk is the suspect
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def per_sample(model: str) -> int:
    for prefix, size in PER_SAMPLE.items():
        if model.startswith(prefix):
            return size
    return 4096


def estimate(model: str, scenarios: int, mode: str, count: int | None, dataset_samples: int | None) -> int:
    """Bytes a run needs: a fixed allowance per test, and per sample for the accuracy log.

    dataset_samples is the size of the user's dataset an accuracy test scores (all of it, or --count
    of it); None for the image's generated stand-in, whose log fits in the allowance.
    """
    modes = 2 if mode == "both" else 1
    accuracy_tests = scenarios if mode in ("accuracy", "both") else 0
    samples = 0 if dataset_samples is None else min(count or dataset_samples, dataset_samples)
    return PER_TEST * scenarios * modes + accuracy_tests * samples * per_sample(model)


def existing_parent(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_space(path: Path) -> int:
    try:
        return shutil.disk_usage(existing_parent(path)).free
    except OSError:
        return 0


def read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(existing_parent(path)).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def preflight(output_dir: Path, needed: int) -> None:
    """Refuse (exit 2) before anything is written when output_dir cannot hold the run."""
    if read_only(output_dir):
        raise NotEnoughSpace(f"--output_dir {output_dir}: on a read-only file system")
    free = free_space(output_dir)
    if free < needed:
        raise NotEnoughSpace(f"--output_dir {output_dir}: {human(free)} free, the run needs about {human(needed)}")


def describe(folder: Path, exc: OSError | None = None) -> str:
    if (exc is not None and exc.errno == errno.EROFS) or (exc is None and read_only(folder)):
        return f"{folder} is on a read-only file system"
    return f"no space left in {folder} ({human(free_space(folder))} free)"


@contextmanager
def write_guard(folder: Path) -> Iterator[None]:
    """ENOSPC / EDQUOT / EROFS inside the block become one DiskError line naming the folder."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _DISK_ERRNOS:
            raise DiskError(describe(folder, exc)) from None
        raise


def diagnose(folder: Path) -> str | None:
    """After a failed or unfinished run: the disk's fault, in one line, or None."""
    if read_only(folder):
        return describe(folder)
    if free_space(folder) < LOW:
        return describe(folder)
    return None
