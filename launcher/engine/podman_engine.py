"""The podman implementation of ContainerEngine: the podman command line, rootful or rootless.

Why the CLI (as cibuildwheel's one OCI wrapper for docker and podman does) rather than podman-py or
the docker SDK on podman's docker-compatible socket: both need a `podman system service` kept running
(a socket per user for rootless podman), and podman-py is one more dependency; the CLI needs nothing
running, takes docker's flags, and executes the very line `run --dry-run` prints.

Rootless podman (the launcher is not root) runs the container with `--userns keep-id`, so the user's
UID inside is the user's UID outside and the results stay theirs. Images live in podman's own store
(root's, or the user's): a base made for docker reaches it by `docker save IMAGE | podman load`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import BinaryIO, Iterator

from launcher.engine.base import (BuildRequest, ContainerEngine, ContainerInfo, ContainerSummary, ImageInfo, LineSink,
                                  RunOutcome)
from launcher.engine.build_log import short, stream_build
from launcher.engine.cli_run import CHUNK, run_argv, stream_stdout
from launcher.errors import EngineError, RunError
from launcher.run.container import ContainerSpec



class PodmanEngine(ContainerEngine):
    kind = "podman"

    def __init__(self, cli: str | None = None):
        self.cli = cli or shutil.which("podman") or "podman"

    @property
    def rootless(self) -> bool:
        return os.geteuid() != 0

    def _podman(self, *args: str, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess:
        try:
            proc = subprocess.run([self.cli, *args], capture_output=True, input=input, timeout=600)
        except OSError as exc:
            raise EngineError(f"cannot run podman ({self.cli!r}: {exc.strerror}); is podman installed?") from None
        if check and proc.returncode != 0:
            error = proc.stderr.decode(errors="replace").strip().splitlines()
            raise EngineError(f"podman {args[0]} failed: {short(error[-1] if error else f'status {proc.returncode}')}")
        return proc

    def ensure_reachable(self) -> None:
        self._podman("info", "--format", "{{.Host.OCIRuntime.Name}}")

    def host_info(self) -> dict:
        return json.loads(self._podman("info", "--format", "json").stdout)

    def image_info(self, tag: str) -> ImageInfo | None:
        proc = self._podman("image", "inspect", tag, check=False)
        if proc.returncode != 0:
            return None
        [image] = json.loads(proc.stdout)
        return ImageInfo(image["Id"], image.get("Size", 0), image.get("Labels") or {})

    def build_command(self, request: BuildRequest) -> list[str]:
        args = [self.cli, "build", "--file", str(request.dockerfile), "--target", request.target, "--tag", request.tag]
        if request.network:
            args += ["--network", request.network]
        if request.no_cache:
            args.append("--no-cache")
        for key, value in sorted(request.build_args.items()):
            args += ["--build-arg", f"{key}={value}"]
        return args + [str(request.context)]

    def build(self, request: BuildRequest, on_step: LineSink, log_path: Path) -> None:
        stream_build(self.build_command(request), dict(os.environ), request.tag, on_step, log_path)

    def create(self, spec: ContainerSpec) -> ContainerInfo:
        proc = self._podman(*spec.to_argv(self.cli, verb="create")[1:], check=False)
        if proc.returncode != 0:
            raise RunError(f"the engine refused the container: {short(proc.stderr.decode(errors='replace'))}")
        container_id = proc.stdout.decode().strip().splitlines()[-1]
        [attrs] = json.loads(self._podman("container", "inspect", container_id).stdout)
        return ContainerInfo(container_id, attrs.get("HostConfig") or {})

    def run(self, spec: ContainerSpec, on_line: LineSink, timeout: float | None = None) -> RunOutcome:
        if not self.image_exists(spec.image):
            raise RunError(f"image {spec.image} not found")
        name = spec.name
        stop = (lambda: self._podman("stop", "--time", "5", name, check=False)) if name else None
        outcome = run_argv(spec.to_argv(self.cli), on_line, timeout=timeout, stop=stop)
        if name:
            self.remove_container(name)  # --rm removes it; this covers a stop that raced its start
        # podman exits 125 when it could not create or start the container (126/127: the command)
        if outcome.status == 125 and not outcome.timed_out:
            raise RunError("the container did not start (podman exited 125; its message is above)")
        return outcome

    def labelled_containers(self, label: str) -> list[ContainerSummary]:
        proc = self._podman("ps", "--all", "--filter", f"label={label}", "--format", "json")
        return [ContainerSummary(c["Id"], (c.get("Names") or [c["Id"][:12]])[0], c.get("Labels") or {})
                for c in json.loads(proc.stdout or b"[]")]

    def remove_container(self, container_id: str) -> None:
        self._podman("rm", "--force", "--ignore", container_id, check=False)

    def save(self, tags: list[str]) -> Iterator[bytes]:
        args = [self.cli, "save", "--format", "docker-archive"] + (["--multi-image-archive"] if len(tags) > 1 else [])
        yield from stream_stdout(args + tags, f"podman could not save {', '.join(tags)}")

    def load(self, archive: BinaryIO) -> None:
        proc = subprocess.Popen([self.cli, "load"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        assert proc.stdin is not None and proc.stderr is not None
        try:
            while chunk := archive.read(CHUNK):
                proc.stdin.write(chunk)
        except BrokenPipeError:
            pass
        finally:
            proc.stdin.close()
        error = proc.stderr.read().decode(errors="replace").strip()
        if proc.wait() != 0:
            raise EngineError(f"podman could not load the images ({short(error)})")

    def tag(self, image: str, tag: str) -> None:
        if self._podman("tag", image, tag, check=False).returncode != 0:
            raise EngineError(f"image {image} ({tag}) is not in the engine")

    def remove_image(self, tag: str) -> None:
        self._podman("rmi", "--force", "--ignore", tag, check=False)
