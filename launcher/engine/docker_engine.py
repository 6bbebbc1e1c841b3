"""The docker implementation of ContainerEngine: builds through the docker CLI, the rest through the SDK.

docker-py cannot drive BuildKit, so builds go through the CLI (buildx, else `DOCKER_BUILDKIT=1`, else
the classic builder) with the output streamed line by line; everything else uses the SDK's public API
(and `docker save` of several images, which the SDK wraps only for one, the CLI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import BinaryIO, Iterator

from launcher.engine.base import (BuildRequest, ContainerEngine, ContainerInfo, ContainerSummary, ImageInfo, LineSink,
                                  RunOutcome)
from launcher.engine.cli_run import CHUNK, stream_stdout
from launcher.engine.container_run import StartError, run_container
from launcher.engine.build_log import StepTracker, short as _short, stream_build  # noqa: F401  (StepTracker: re-exported)
from launcher.errors import EngineError, RunError
from launcher.run.container import ContainerSpec


class DockerEngine(ContainerEngine):
    """docker (the engine behind DOCKER_HOST, or the local socket)."""

    def __init__(self, cli: str | None = None, builder: str = "auto"):
        self.cli = cli or shutil.which("docker") or "docker"
        self.builder = builder
        self._client = None
        self._rootless: bool | None = None

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

    @property
    def rootless(self) -> bool:
        """A rootless daemon (dockerd-rootless.sh, through DOCKER_HOST): `docker info` says so."""
        if self._rootless is None:
            try:
                options = self.client.info().get("SecurityOptions") or []
            except EngineError:  # unreachable: a --dry-run still prints the rootful line
                return False
            self._rootless = any("name=rootless" in option for option in options)
        return self._rootless

    def ensure_reachable(self) -> None:
        self.client  # noqa: B018  (connects and pings, or raises EngineError)

    def host_info(self) -> dict:
        return self.client.info()

    def image_info(self, tag: str) -> ImageInfo | None:
        import docker

        try:
            image = self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return None
        return ImageInfo(image.id, image.attrs.get("Size", 0), image.labels or {})

    def create(self, spec: ContainerSpec) -> ContainerInfo:
        container = self._create(spec)
        container.reload()
        return ContainerInfo(container.id, container.attrs.get("HostConfig") or {})

    def remove_container(self, container_id: str) -> None:
        import docker

        try:
            self.client.containers.get(container_id).remove(force=True)
        except docker.errors.NotFound:
            pass

    def _create(self, spec: ContainerSpec):
        import docker

        kwargs = sdk_arguments(spec)
        kwargs.pop("detach", None)
        try:
            return self.client.containers.create(**kwargs)
        except docker.errors.ImageNotFound:
            raise RunError(f"image {spec.image} not found") from None
        except docker.errors.APIError as exc:
            raise RunError(f"the engine refused the container: {_short(exc.explanation or str(exc))}") from None

    def run(self, spec: ContainerSpec, on_line: LineSink, timeout: float | None = None) -> RunOutcome:
        """Create (auto-removed, as the --dry-run line's --rm), attach, start, stream, wait; see container_run."""
        import docker

        try:
            return run_container(self.client, sdk_arguments(spec), on_line, timeout=timeout)
        except docker.errors.ImageNotFound:
            raise RunError(f"image {spec.image} not found") from None
        except StartError as exc:
            raise RunError(f"the container did not start: {_short(str(exc))}") from None
        except docker.errors.APIError as exc:
            raise RunError(f"the engine refused the container: {_short(exc.explanation or str(exc))}") from None

    def labelled_containers(self, label: str) -> list[ContainerSummary]:
        # The low-level list: the models' list() inspects each one and trips over auto-removals.
        found = self.client.api.containers(all=True, filters={"label": label})
        return [ContainerSummary(c["Id"], (c.get("Names") or ["/" + c["Id"][:12]])[0].lstrip("/"),
                                 c.get("Labels") or {}) for c in found]

    def remove_image(self, tag: str) -> None:
        import docker

        try:
            self.client.images.remove(tag, force=True)
        except docker.errors.ImageNotFound:
            pass

    def save(self, tags: list[str]) -> Iterator[bytes]:
        import docker

        if len(tags) == 1:
            try:
                yield from self.client.api.get_image(tags[0], chunk_size=CHUNK)
            except docker.errors.APIError as exc:
                raise EngineError(f"the engine could not save {tags[0]}: {exc.explanation or exc}") from None
            return
        # Several images in one archive (shared layers once): the SDK wraps only the one-image form.
        yield from stream_stdout([self.cli, "save", *tags], f"the engine could not save {', '.join(tags)}")

    def load(self, archive: BinaryIO) -> None:
        import docker

        try:
            self.client.images.load(archive)
        except docker.errors.APIError as exc:
            raise EngineError(f"the engine refused the images ({exc.explanation or exc})") from None
        except docker.errors.DockerException as exc:  # ImageLoadError: an error in the load's output stream
            raise EngineError(f"the engine could not load the images ({exc})") from None

    def tag(self, image: str, tag: str) -> None:
        import docker

        repository, _, name = tag.rpartition(":")
        try:
            self.client.images.get(image).tag(repository, name)
        except docker.errors.ImageNotFound:
            raise EngineError(f"image {image} ({tag}) is not in the engine") from None

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
        stream_build(args, env, request.tag, on_line, log_path)


def sdk_arguments(spec: ContainerSpec) -> dict:
    """The docker SDK's `containers.create/run` arguments for a ContainerSpec (its to_cli() twin)."""
    from docker.types import DeviceRequest, Mount as SdkMount

    kwargs: dict = {
        "image": spec.image,
        "command": spec.command,
        "network_mode": spec.network,
        "environment": dict(spec.environment),
        "mounts": [SdkMount(m.target, m.source, type="bind", read_only=m.read_only) for m in spec.mounts],
        "detach": True,
        "auto_remove": spec.auto_remove,
    }
    if spec.labels:
        kwargs["labels"] = dict(spec.labels)
    if spec.cap_drop:
        kwargs["cap_drop"] = list(spec.cap_drop)
    if spec.read_only:
        kwargs["read_only"] = True
    if spec.tmpfs:
        kwargs["tmpfs"] = dict(spec.tmpfs)
    if spec.pids_limit is not None:
        kwargs["pids_limit"] = spec.pids_limit
    if spec.ports:
        kwargs["ports"] = {f"{p.container_port}/tcp": (p.host_ip, p.host_port) for p in spec.ports}
    if spec.cpus:
        kwargs["nano_cpus"] = int(round(float(spec.cpus) * 1e9))
    if spec.mem_limit:
        kwargs["memswap_limit"] = spec.mem_limit  # no swap on top: the limit is the limit
    if spec.name:
        kwargs["name"] = spec.name
    if spec.user:
        kwargs["user"] = spec.user
    if spec.userns:
        kwargs["userns_mode"] = spec.userns
    if spec.gpus:
        if spec.gpus == "all":
            kwargs["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
        else:
            ids = [g.strip() for g in spec.gpus.split(",")]
            kwargs["device_requests"] = [DeviceRequest(device_ids=ids, capabilities=[["gpu"]])]
    if spec.devices:
        kwargs["devices"] = [f"{d}:rwm" if ":" in d else f"{d}:{d}:rwm" for d in spec.devices]
    for option in ("group_add", "security_opt"):
        if getattr(spec, option):
            kwargs[option] = list(getattr(spec, option))
    for option in ("ipc_mode", "shm_size", "mem_limit"):
        if getattr(spec, option):
            kwargs[option] = getattr(spec, option)
    return kwargs
