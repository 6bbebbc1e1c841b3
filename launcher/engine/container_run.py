"""Run one owned container through the docker SDK: auto-removed, output streamed, OOM kills detected.

The container is created with auto-remove (as `docker run --rm`, which the --dry-run line prints), so
it is gone once it exits even when the launcher is killed; output is attached before it starts, and
its status is waited for before it starts, so a quick exit loses neither. Whether the kernel's OOM
killer stopped it is read from docker's State.OOMKilled while the container exists, and otherwise
from the engine's `oom` event for it.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterator

from launcher.engine.base import LineSink, RunOutcome


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception:  # best-effort clean-up: the container may already be gone
        pass


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield line.decode(errors="replace")
    if buffer:
        yield buffer.decode(errors="replace")


def oom_killed(client, container_id: str, since: float) -> bool:
    """docker's State.OOMKilled, or (the container already removed) an `oom` event for it."""
    try:
        return bool(client.api.inspect_container(container_id)["State"].get("OOMKilled"))
    except Exception:
        pass
    try:
        events = client.events(since=int(since) - 1, until=int(time.time()) + 1, decode=True,
                               filters={"container": container_id, "event": "oom"})
        return any(True for _ in events)
    except Exception:
        return False


def run_container(client, kwargs: dict, on_line: LineSink, timeout: float | None = None,
                  stop_timeout: int = 5) -> RunOutcome:
    """Create (from SDK kwargs), attach, start, stream, wait. Always removes the container; a
    KeyboardInterrupt (Ctrl-C, or SIGTERM/SIGHUP raised as one) stops it first, then propagates."""
    import docker

    kwargs = {k: v for k, v in kwargs.items() if k != "detach"}
    container = client.containers.create(**kwargs)
    started_at = time.time()
    result: dict = {}
    expired = threading.Event()
    timer = None

    def _wait() -> None:
        try:
            result.update(container.wait(condition="next-exit"))
        except Exception as exc:  # the engine went away, or the container was removed first
            result["error"] = exc

    try:
        waiter = threading.Thread(target=_wait, daemon=True)
        waiter.start()
        stream = container.attach(stdout=True, stderr=True, stream=True, logs=True)
        try:
            container.start()
        except docker.errors.APIError as exc:
            raise StartError(exc.explanation or str(exc)) from None
        if timeout:
            def _expire() -> None:
                expired.set()
                _quietly(container.kill)
            timer = threading.Timer(timeout, _expire)
            timer.daemon = True
            timer.start()
        for line in _lines(stream):
            on_line(line)
        while waiter.is_alive():
            waiter.join(0.2)  # short joins: a signal handler still runs promptly
        status = int(result.get("StatusCode", 1)) if "error" not in result else 1
        return RunOutcome(status=status, oom_killed=status != 0 and oom_killed(client, container.id, started_at),
                       timed_out=expired.is_set())
    except KeyboardInterrupt:
        _quietly(lambda: container.stop(timeout=stop_timeout))
        raise
    finally:
        if timer:
            timer.cancel()
        _quietly(lambda: container.remove(force=True))


class StartError(Exception):
    """The engine refused to start the container (the caller words it as a RunError)."""
