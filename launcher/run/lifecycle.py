"""A run folder's life: made, filled by the harness, verified, and only then marked COMPLETE.

A run folder is complete only when it holds a COMPLETE record, written last and atomically, whose
checksums still match every file in the folder. Everything else (killed, cut short, a full disk, a
folder edited afterwards) is incomplete, whatever stopped it; an INCOMPLETE marker with the reason is
written where possible, but its absence proves nothing. Skipping a configuration with results,
`--clean` and the summary table read only `is_complete`.

A per-configuration lock (flock on <cache>/locks/<output folder key>-<signature>.lock; in the cache, so
that an output folder holds nothing but run folders) keeps a second identical run from starting while
one is in progress.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Callable, Iterable

from mlperf_harness.contract import ACCURACY_LOG, ACCURACY_TXT, DETAIL, SUMMARY, find_test_dirs, read_summary

from launcher.build.artifacts import sha256_file
from launcher.errors import RunInProgress
from launcher.run.diskspace import write_guard

RUN_RECORD = "run.json"
INCOMPLETE = "INCOMPLETE"
COMPLETE = "COMPLETE"
FORMAT = 1


# ---- what the harness must have left -------------------------------------------------------------
def expected_tests(scenarios: Iterable[str], mode: str) -> list[tuple[str, str]]:
    modes = ("accuracy", "performance") if mode == "both" else (mode,)
    return [(scenario, m) for scenario in scenarios for m in modes]


def _nonempty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def verify_outputs(run_dir: Path, scenarios: Iterable[str], mode: str) -> list[str]:
    """What is missing or broken in the harness's results tree (the contract's layout); [] when every
    test finished."""
    found: dict[tuple[str, str], list[Path]] = {}
    for test in find_test_dirs(run_dir):
        found.setdefault((test.scenario, test.mode), []).append(test.path)
    problems = []
    for scenario, test in expected_tests(scenarios, mode):
        name = f"{scenario} {test}"
        folders = found.get((scenario, test), [])
        if len(folders) != 1:
            problems.append(f"{name}: {'no test folder with a summary' if not folders else 'several test folders'}")
            continue
        folder = folders[0]
        if not _nonempty(folder / DETAIL):
            problems.append(f"{name}: {DETAIL} missing or empty")
        if test == "performance":
            if read_summary(folder / SUMMARY).validity is None:
                problems.append(f"{name}: {SUMMARY} has no 'Result is' line")
            continue
        if not _nonempty(folder / SUMMARY):
            problems.append(f"{name}: {SUMMARY} empty")
        if not _nonempty(folder / ACCURACY_TXT):
            problems.append(f"{name}: {ACCURACY_TXT} missing or empty")
        try:
            json.loads((folder / ACCURACY_LOG).read_text())
        except (OSError, ValueError):
            problems.append(f"{name}: {ACCURACY_LOG} missing or not JSON")
    return problems


# ---- the COMPLETE record -------------------------------------------------------------------------
def _result_files(run_dir: Path) -> list[Path]:
    skip = {COMPLETE, INCOMPLETE}
    return sorted(p for p in run_dir.rglob("*")
                  if p.is_file() and not p.is_symlink() and p.relative_to(run_dir).as_posix() not in skip
                  and not p.name.endswith(".tmp"))


def checksums(run_dir: Path) -> dict[str, dict]:
    return {p.relative_to(run_dir).as_posix(): {"sha256": sha256_file(p), "size": p.stat().st_size}
            for p in _result_files(run_dir)}


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, text: str) -> None:
    """temp file + fsync + rename + fsync of the folder: the file is there whole or not at all."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_complete(run_dir: Path, scenarios: Iterable[str], mode: str) -> dict:
    """Verify the harness's outputs, then record every file's checksum in COMPLETE, last.

    Returns the record; raises IncompleteRun (after marking the folder) when a test is missing."""
    problems = verify_outputs(run_dir, scenarios, mode)
    if problems:
        reason = "; ".join(problems)
        mark_incomplete(run_dir, reason)
        raise IncompleteRun(run_dir, reason)
    with write_guard(run_dir):
        (run_dir / INCOMPLETE).unlink(missing_ok=True)
        record = {"format": FORMAT, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "files": checksums(run_dir)}
        atomic_write(run_dir / COMPLETE, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return record


class IncompleteRun(Exception):
    """The harness exited 0 but left a test unfinished (the caller turns it into a user error)."""

    def __init__(self, run_dir: Path, reason: str):
        super().__init__(f"the run in {run_dir} is incomplete: {reason}")
        self.run_dir, self.reason = run_dir, reason


def is_complete(run_dir: Path) -> bool:
    """COMPLETE is there, parseable, and every file it lists is present with its size and checksum,
    and no result file was added since."""
    try:
        record = json.loads((run_dir / COMPLETE).read_text())
        files = record["files"]
        if not isinstance(files, dict) or not files:
            return False
        present = {p.relative_to(run_dir).as_posix() for p in _result_files(run_dir)}
        if present != set(files):
            return False
        for name, entry in files.items():
            path = run_dir / name
            if path.stat().st_size != entry["size"] or sha256_file(path) != entry["sha256"]:
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def mark_incomplete(run_dir: Path, reason: str) -> None:
    """Best effort: INCOMPLETE with the reason; a stale COMPLETE is removed first."""
    try:
        (run_dir / COMPLETE).unlink(missing_ok=True)
        (run_dir / INCOMPLETE).write_text(reason.rstrip("\n") + "\n")
    except OSError:
        pass


# ---- run folders in an output folder -------------------------------------------------------------
def is_run_folder(path: Path) -> bool:
    """A real folder (not a symlink) holding the launcher's run.json."""
    return path.is_dir() and not path.is_symlink() and (path / RUN_RECORD).is_file() \
        and not (path / RUN_RECORD).is_symlink()


def run_folders(output_dir: Path) -> list[Path]:
    if not output_dir.is_dir():
        return []
    return sorted(p for p in output_dir.iterdir() if is_run_folder(p))


def signature_of(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / RUN_RECORD).read_text()).get("signature")
    except (OSError, ValueError, AttributeError):
        return None


def previous_run(output_dir: Path, signature: str) -> Path | None:
    """The newest complete run of this configuration in output_dir (skipped without --rerun)."""
    for run_dir in reversed(run_folders(output_dir)):
        if signature_of(run_dir) == signature and is_complete(run_dir):
            return run_dir
    return None


def clean_incomplete(output_dir: Path, say: Callable[[str], None], locks_dir: Path | None = None) -> list[Path]:
    """--clean: remove run folders that are not complete and not in use by a live run; say each one."""
    busy = {p.resolve() for p in locked_run_dirs(locks_dir, output_dir)} if locks_dir else set()
    removed = []
    for run_dir in run_folders(output_dir):
        if is_complete(run_dir) or run_dir.resolve() in busy:
            continue
        shutil.rmtree(run_dir, ignore_errors=True)
        if run_dir.exists():
            say(f"could not remove the incomplete run {run_dir}")
            continue
        removed.append(run_dir)
        say(f"removed the incomplete run {run_dir}")
    return removed


# ---- the per-configuration lock ------------------------------------------------------------------
def _holder(path: Path) -> dict:
    try:
        data = json.loads(path.read_text() or "{}")
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _output_key(output_dir: Path) -> str:
    return hashlib.sha256(str(Path(os.path.abspath(output_dir)).resolve()).encode()).hexdigest()[:16]


class RunLock:
    """flock on <locks_dir>/<output folder key>-<signature>.lock, held for the whole run (released by the
    kernel if the launcher dies). The file names the holder's pid and, once made, its run folder."""

    def __init__(self, locks_dir: Path, output_dir: Path, signature: str):
        self.output_dir = output_dir
        self.path = locks_dir / f"{_output_key(output_dir)}-{signature}.lock"
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        with write_guard(self.path.parent):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        for attempt in range(5):  # a --clean probing the lock holds it for an instant
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    os.close(fd)
                    raise
                time.sleep(0.05)
        else:
            os.close(fd)
            holder = _holder(self.path)
            where = holder.get("run_dir") or str(self.output_dir)
            raise RunInProgress(f"a run of this configuration is in progress in {where} "
                                f"(pid {holder.get('pid', 'unknown')})")
        self._fd = fd
        self.record(None)
        return self

    def record(self, run_dir: Path | None) -> None:
        assert self._fd is not None
        data = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "run_dir": str(run_dir) if run_dir else None}).encode()
        with write_guard(self.path.parent):
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire() if self._fd is None else self

    def __exit__(self, *exc) -> None:
        self.release()


def locked_run_dirs(locks_dir: Path, output_dir: Path) -> list[Path]:
    """Run folders of output_dir named by a lock a live launcher holds."""
    found = []
    for path in sorted(locks_dir.glob(f"{_output_key(output_dir)}-*.lock")) if locks_dir.is_dir() else []:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            if run_dir := _holder(path).get("run_dir"):
                found.append(Path(run_dir))
        finally:
            os.close(fd)
    return found
