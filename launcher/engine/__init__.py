"""The container engine: an interface (base.py) and one implementation per runtime (--runtime docker, podman,
apptainer); only docker_engine.py imports docker."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from launcher.engine.base import ContainerEngine
    from launcher.settings import Settings


def make_engine(settings: "Settings") -> "ContainerEngine":
    """The engine of the settings' runtime (docker through DOCKER_HOST, rootless or not; podman rootful or
    rootless, by who runs it; apptainer from SIF files)."""
    if settings.runtime == "podman":
        from launcher.engine.podman_engine import PodmanEngine

        return PodmanEngine()
    if settings.runtime == "apptainer":
        from launcher.engine.apptainer_engine import ApptainerEngine
        from launcher.settings import sif_dir

        return ApptainerEngine(sif_dir(settings.cache, settings.config))
    from launcher.engine.docker_engine import DockerEngine

    return DockerEngine(cli=settings.config.docker_cli, builder=settings.config.builder)
