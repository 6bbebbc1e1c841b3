"""The container engine interface: what the launcher asks of docker (or podman, later), and the values it passes.

Everything outside launcher/engine/ talks to a ContainerEngine; only docker_engine.py imports docker.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from launcher.run.container import ContainerSpec

LineSink = Callable[[str], None]


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


@dataclass(frozen=True)
class ContainerInfo:
    """A created container: its id and the engine's view of its host configuration (for tests and checks)."""

    id: str
    host_config: dict


@dataclass(frozen=True)
class RunOutcome:
    """How a benchmark container ended."""

    status: int  # its exit status
    oom_killed: bool = False  # the kernel's OOM killer stopped it (docker's State.OOMKilled)
    timed_out: bool = False  # the launcher's timeout killed it


@dataclass(frozen=True)
class ContainerSummary:
    """A container as a listing shows it."""

    id: str
    name: str
    labels: dict[str, str]


class ContainerEngine(ABC):
    """Build, run, save, load, inspect, tag and remove: every engine operation the launcher uses."""

    #: the engine's command-line program, as a `--dry-run` line names it
    cli: str = "docker"
    #: the runtime (--runtime): docker, podman or apptainer
    kind: str = "docker"

    @property
    def rootless(self) -> bool:
        """Whether the engine runs unprivileged for the invoking user (its files are then the user's)."""
        return False

    def command(self, spec: ContainerSpec) -> list[str]:
        """The command line that runs `spec` with this engine (what `run --dry-run` prints)."""
        return spec.to_argv(Path(self.cli).name)

    @abstractmethod
    def ensure_reachable(self) -> None:
        """Raise EngineError (one line) when the engine cannot be reached."""

    @abstractmethod
    def host_info(self) -> dict:
        """The engine's `info` (runtimes, etc.), for the host checks of GPU runs."""

    @abstractmethod
    def image_info(self, tag: str) -> ImageInfo | None:
        """The image's id, size and labels, or None when the engine has no such image."""

    def image_exists(self, tag: str) -> bool:
        return self.image_info(tag) is not None

    @abstractmethod
    def build(self, request: BuildRequest, on_step: LineSink, log_path: Path) -> None:
        """Build request.tag; report each new step to on_step; keep the whole log in log_path."""

    @abstractmethod
    def create(self, spec: ContainerSpec) -> ContainerInfo:
        """Create (not start) a container and return what the engine made of it; the caller removes it."""

    @abstractmethod
    def run(self, spec: ContainerSpec, on_line: LineSink, timeout: float | None = None) -> RunOutcome:
        """Start a container, stream its output to on_line, wait, remove it; return how it ended (killed at
        `timeout` seconds). A KeyboardInterrupt (Ctrl-C, or SIGTERM/SIGHUP raised as one) stops and
        removes it, then propagates."""

    def labelled_containers(self, label: str) -> list[ContainerSummary]:
        """Every container (running or not) carrying `label`; an engine that cannot list has none."""
        return []

    @abstractmethod
    def remove_container(self, container_id: str) -> None:
        """Remove a container, running or not; a missing one is no error."""

    @abstractmethod
    def save(self, tags: list[str]) -> Iterator[bytes]:
        """`docker save` of the images: one archive, shared layers once."""

    @abstractmethod
    def load(self, archive: BinaryIO) -> None:
        """`docker load` of an archive."""

    @abstractmethod
    def tag(self, image: str, tag: str) -> None:
        """Give `image` (an id or a name) the name `tag` (repository:tag)."""

    @abstractmethod
    def remove_image(self, tag: str) -> None:
        """Remove an image; a missing one is no error."""
