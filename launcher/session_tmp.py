"""What every command works with: the spec, local settings, the cache, the engine and the console."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from launcher import settings as cfg
from launcher.engine.docker_engine import DockerEngine
from launcher.spec.model import Spec, load_spec


@dataclass
class Session:
    spec: Spec
    config: cfg.UserConfig
    cache: Path
    base_overrides: dict[str, cfg.BaseChoice] = field(default_factory=dict)
    console: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))
    _engine: DockerEngine | None = None
    # Air-gapped labs: build from the cache only (no wheel or artifact download, no pull); a registry
    # mirror for remote bases; the package index and CA bundle for host-side fetches only.
    offline: bool = False
    registry_mirror: str | None = None
    index_url: str | None = None
    ca_bundle: Path | None = None

    @classmethod
    def open(cls, spec_path: Path | None = None, bases: list[str] | None = None, *, offline: bool = False,
             registry_mirror: str | None = None, index_url: str | None = None,
             ca_bundle: Path | None = None) -> "Session":
        config = cfg.load_config()
        return cls(spec=load_spec(spec_path), config=config, cache=cfg.cache_dir(),
                   base_overrides=cfg.parse_base_overrides(bases), offline=offline,
                   registry_mirror=cfg.registry_mirror(registry_mirror, config),
                   index_url=cfg.index_url(index_url, config), ca_bundle=cfg.ca_bundle(ca_bundle, config))

    @property
    def engine(self) -> DockerEngine:
        if self._engine is None:
            self._engine = DockerEngine(cli=self.config.docker_cli, builder=self.config.builder)
        return self._engine

    def base(self, device: str) -> cfg.BaseChoice:
        """The base image and its Python for a device, after every override."""
        declared = self.spec.base(device)
        return cfg.base_choice(device, cfg.BaseChoice(image=declared.image, python=declared.python),
                               self.base_overrides, self.config, mirror=self.registry_mirror)

    @property
    def repository(self) -> str:
        return cfg.repository(self.spec.project.repository, self.config)

    def say(self, message: str) -> None:
        self.console.print(message, markup=False)
