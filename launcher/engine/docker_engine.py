"""The container engine: builds through the docker CLI, runs containers through the docker SDK.

docker-py cannot drive BuildKit, so builds go through the CLI (buildx, else `DOCKER_BUILDKIT=1`, else
the classic builder) with the output streamed line by line; everything else uses the SDK.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from launcher.run.container import ContainerSpec
from launcher.errors import BuildError, EngineError, RunError

LineSink = Callable[[str], None]

_CLASSIC_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_BUILDKIT_STEP = re.compile(r"^#(\d+) \[([^\]]+)\] (.*)$")
_BUILDKIT_ERROR = re.compile(r"^#(\d+) ERROR")


@dataclass(frozen=True)
class BuildRequest:
    context: Path
    dockerfile: Path
    target: str
    tag: str
    build_args: dict[str, str] = field(default_factory=dict)
    network: str | None = "none"
    no_cache: bool = False


@dataclass(frozen=True)
class ImageInfo:
    id: str
    size: int
    labels: dict[str, str]


class StepTracker:
    """Follows build output (classic or BuildKit plain progress) and remembers the failing step."""

    def __init__(self) -> None:
        self.steps: dict[str, str] = {}
        self.current: str | None = None
        self.failed: str | None = None
        self.last_error: str | None = None

    def feed(self, line: str) -> str | None:
        """Record a line; return a short step description when a new step starts."""
        if m := _CLASSIC_STEP.match(line):
            self.current = f"step {m[1]}/{m[2]}: {m[3]}"
            return self.current
        if m := _BUILDKIT_STEP.match(line):
            desc = f"[{m[2]}] {m[3]}"
            new = m[1] not in self.steps
            self.steps[m[1]] = desc
            self.current = desc
            return desc if new else None
        if m := _BUILDKIT_ERROR.match(line):
            self.failed = self.steps.get(m[1], self.current)
        lowered = line.lower()
        if ("error" in lowered or "returned a non-zero code" in lowered or "failed" in lowered) and line.strip():
            self.last_error = line.strip()
        return None

    def failing_step(self) -> str:
        return self.failed or self.current or "before the first step"


def _short(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class DockerEngine:
    """A small engine interface: image_exists, image_info, build, create, run, remove_image."""

    def __init__(self, cli: str | None = None, builder: str = "auto"):
        self.cli = cli or shutil.which("docker") or "docker"
        self.builder = builder
        self._client = None

    # ---- SDK side -------------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            import docker

            try:
                self._client = docker.from_env()
                self._client.ping()
            except Exception as exc:  # docker.errors.DockerException and connection errors
                raise EngineError(f"cannot reach the docker engine ({_short(str(exc), 120)}); is dockerd running?") from None
        return self._client

    def image_info(self, tag: str) -> ImageInfo | None:
        import docker

        try:
            image = self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return None
        return ImageInfo(image.id, image.attrs.get("Size", 0), image.labels or {})

    def image_exists(self, tag: str) -> bool:
        return self.image_info(tag) is not None

    def create(self, spec: ContainerSpec):
        import docker

        kwargs = spec.to_sdk()
        kwargs.pop("detach", None)
        try:
            return self.client.containers.create(**kwargs)
        except docker.errors.ImageNotFound:
            raise RunError(f"image {spec.image} not found") from None
        except docker.errors.APIError as exc:
            raise RunError(f"the engine refused the container: {_short(exc.explanation or str(exc))}") from None

    def run(self, spec: ContainerSpec, on_line: LineSink, timeout: float | None = None) -> int:
        """Start the container, stream its output, wait; always removes it. Returns its exit status."""
        import docker

        container = self.create(spec)
        timer = None
        timed_out = threading.Event()
        try:
            try:
                container.start()
            except docker.errors.APIError as exc:
                raise RunError(f"the container did not start: {_short(exc.explanation or str(exc))}") from None
            if timeout:
                def _expire() -> None:
                    timed_out.set()
                    _quietly(container.kill)
                timer = threading.Timer(timeout, _expire)
                timer.daemon = True
                timer.start()
            for line in _lines(container.logs(stream=True, follow=True)):
                on_line(line)
            status = container.wait().get("StatusCode", 1)
            if timed_out.is_set():
                raise RunError(f"the benchmark ran past its {timeout:.0f} s limit and was stopped")
            return int(status)
        except KeyboardInterrupt:
            _quietly(lambda: container.stop(timeout=5))
            raise
        finally:
            if timer:
                timer.cancel()
            _quietly(lambda: container.remove(force=True))

    def remove_image(self, tag: str) -> None:
        import docker

        try:
            self.client.images.remove(tag, force=True)
        except docker.errors.ImageNotFound:
            pass

    # ---- CLI side (builds) ----------------------------------------------------------------------
    def _has_buildx(self) -> bool:
        try:
            return subprocess.run([self.cli, "buildx", "version"], capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def build_command(self, request: BuildRequest) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        builder = self.builder
        if builder == "auto":
            builder = "buildx" if self._has_buildx() else "classic"
        if builder == "buildx":
            args = [self.cli, "buildx", "build", "--load", "--progress=plain"]
            # Layer cache export/import (CI: type=gha,scope=<image>); buildx only.
            for flag, var in (("--cache-from", "MLPERF_DOCKER_CACHE_FROM"), ("--cache-to", "MLPERF_DOCKER_CACHE_TO")):
                if os.environ.get(var):
                    args += [flag, os.environ[var]]
        else:
            args = [self.cli, "build"]
            env["DOCKER_BUILDKIT"] = "1" if builder == "buildkit" else "0"
            if builder == "buildkit":
                args.append("--progress=plain")
        args += ["--file", str(request.dockerfile), "--target", request.target, "--tag", request.tag]
        if request.network:
            args += ["--network", request.network]
        if request.no_cache:
            args.append("--no-cache")
        for key, value in sorted(request.build_args.items()):
            args += ["--build-arg", f"{key}={value}"]
        args.append(str(request.context))
        return args, env

    def build(self, request: BuildRequest, on_line: LineSink, log_path: Path) -> None:
        args, env = self.build_command(request)
        tracker = StepTracker()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                    text=True, errors="replace", bufsize=1)
        except OSError as exc:
            raise EngineError(f"cannot run the docker CLI {self.cli!r}: {exc.strerror}") from None
        with log_path.open("w") as log:
            log.write(" ".join(args) + "\n")
            try:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    line = raw.rstrip("\n")
                    log.write(line + "\n")
                    step = tracker.feed(line)
                    if step:
                        on_line(step)
                status = proc.wait()
            except KeyboardInterrupt:
                proc.terminate()
                proc.wait()
                raise
        if status != 0:
            detail = f": {_short(tracker.last_error, 160)}" if tracker.last_error else ""
            raise BuildError(
                f"build of {request.tag} failed at {_short(tracker.failing_step(), 120)}{detail} (full log: {log_path})"
            )


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield line.decode(errors="replace")
    if buffer:
        yield buffer.decode(errors="replace")


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception:  # best-effort cleanup: the container may already be gone
        pass
