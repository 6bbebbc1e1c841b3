"""Run one container through an engine's command line (podman, apptainer): output streamed, a timeout,
and Ctrl-C (or SIGTERM/SIGHUP raised as one) stopping it before it propagates.

The docker engine runs containers through its SDK (container_run.py); the CLI engines run the very argv
that `run --dry-run` prints, so the tested line is the executed one.
"""

from __future__ import annotations

import subprocess
import threading
from typing import Callable, Iterator

from launcher.engine.base import LineSink, RunOutcome
from launcher.engine.build_log import short
from launcher.errors import EngineError

CHUNK = 1 << 20  # bytes per read of an image archive


def run_argv(argv: list[str], on_line: LineSink, timeout: float | None = None,
             stop: Callable[[], None] | None = None) -> RunOutcome:
    """Start argv, stream its stdout and stderr line by line, wait. At `timeout` seconds `stop` is
    called (else the process is killed) and the outcome says timed_out."""
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                text=True, errors="replace", bufsize=1, start_new_session=True)
    except OSError as exc:
        raise EngineError(f"cannot run {argv[0]!r}: {exc.strerror}") from None
    stop = stop or proc.terminate
    expired = threading.Event()
    timer = None
    if timeout:
        def _expire() -> None:
            expired.set()
            _quietly(stop)
        timer = threading.Timer(timeout, _expire)
        timer.daemon = True
        timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            on_line(line.rstrip("\n"))
        status = proc.wait()
    except KeyboardInterrupt:
        _quietly(stop)
        _quietly(lambda: proc.wait(timeout=30))
        raise
    finally:
        if timer:
            timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return RunOutcome(status=status, timed_out=expired.is_set())


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception:  # best effort: the container may already be gone
        pass


def stream_stdout(argv: list[str], failure: str) -> Iterator[bytes]:
    """argv's standard output in chunks (an engine's `save`); a non-zero exit raises EngineError
    "<failure>: <its last error words>"."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        while chunk := proc.stdout.read(CHUNK):
            yield chunk
    finally:
        proc.stdout.close()
        error = proc.stderr.read().decode(errors="replace").strip()
        status = proc.wait()
    if status != 0:
        raise EngineError(f"{failure}: {short(error or f'status {status}')}")
