"""Containers the launcher owns: a name, labels, a reaper for orphans, and signals handled like Ctrl-C.

Every benchmark container is named `mlperf-docker-<run id>` and labelled with the run id, the
launcher's pid, host and start time, and the run folder. At every `run` start the reaper removes the
containers whose launcher (on this host) is gone, and marks their run folders INCOMPLETE ("launcher
died"). While a container runs, SIGTERM and SIGHUP are handled like SIGINT: the container is stopped
and removed, the run folder is marked incomplete, and the launcher exits 128+signal.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from launcher.run.lifecycle import is_complete, is_run_folder, mark_incomplete

PREFIX = "mlperf-docker-"
LABEL_RUN_ID = "io.mlperf-docker.run-id"
LABEL_PID = "io.mlperf-docker.launcher-pid"
LABEL_HOST = "io.mlperf-docker.launcher-host"
LABEL_STARTED = "io.mlperf-docker.launcher-started"
LABEL_OUTPUT = "io.mlperf-docker.output"
HANDLED = (signal.SIGTERM, signal.SIGHUP)


def new_run_id(run_dir: Path) -> str:
    """The run folder's name (unique in its output folder) plus a random suffix (unique on the engine)."""
    stem = "".join(c if c.isalnum() or c in "_.-" else "-" for c in run_dir.name)[:80]
    return f"{stem}-{secrets.token_hex(3)}"


def container_name(run_id: str) -> str:
    return PREFIX + run_id


def process_started(pid: int) -> str:
    """The process's start time in clock ticks since boot ("" if unknown): tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def labels(run_id: str, run_dir: Path | None) -> dict[str, str]:
    """The owned container's labels (a SUT server of `serve` has no run folder: no output label)."""
    pid = os.getpid()
    found = {LABEL_RUN_ID: run_id, LABEL_PID: str(pid), LABEL_HOST: socket.gethostname(),
             LABEL_STARTED: process_started(pid)}
    return found if run_dir is None else {**found, LABEL_OUTPUT: str(run_dir)}


def launcher_alive(container_labels: dict[str, str]) -> bool:
    """False only when the launcher was on this host and its process is gone (or the pid was reused)."""
    if container_labels.get(LABEL_HOST) != socket.gethostname():
        return True  # another host's launcher: not ours to judge
    try:
        pid = int(container_labels.get(LABEL_PID, ""))
    except ValueError:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = container_labels.get(LABEL_STARTED)
    return not started or process_started(pid) in ("", started)


def reap(engine, say: Callable[[str], None]) -> list[str]:
    """Remove the containers of runs whose launcher died (a ContainerEngine's labelled_containers and
    remove_container); mark their run folders incomplete. Returns their names."""
    reaped = []
    for container in engine.labelled_containers(LABEL_RUN_ID):
        if launcher_alive(container.labels):
            continue
        try:
            engine.remove_container(container.id)
        except Exception:  # the engine's trouble: the next run start tries again
            continue
        reaped.append(container.name)
        output = container.labels.get(LABEL_OUTPUT)
        if output and is_run_folder(Path(output)) and not is_complete(Path(output)):
            mark_incomplete(Path(output), "launcher died")
        say(f"removed the container {container.name} of a run whose launcher died"
            + (f" ({output} is incomplete)" if output else ""))
    return reaped


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C's KeyboardInterrupt so the same clean-up runs."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_status(exc: KeyboardInterrupt) -> int:
    return 128 + (exc.signum if isinstance(exc, Terminated) else signal.SIGINT)


def signal_name(exc: KeyboardInterrupt) -> str:
    return signal.Signals(exc.signum).name if isinstance(exc, Terminated) else "SIGINT"


@contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Inside the block SIGTERM and SIGHUP raise Terminated (once: a second one during the clean-up
    is ignored, so the clean-up finishes)."""
    fired = []

    def handler(signum, frame):
        if not fired:
            fired.append(signum)
            raise Terminated(signum)

    previous = {}
    try:
        for signum in HANDLED:
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread: leave the signals alone
        previous = {}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextmanager
def guarded_run(run_dir: Path) -> Iterator[None]:
    """Wrap a run's container: SIGTERM/SIGHUP act like SIGINT; any interruption marks the folder."""
    with signals_as_interrupts():
        try:
            yield
        except KeyboardInterrupt as exc:
            mark_incomplete(run_dir, f"interrupted ({signal_name(exc)}) at "
                                     f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
            raise
