"""What a command works with: its frozen Settings, the container engine (made on first use) and the console."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from launcher import console
from launcher.engine.base import ContainerEngine
from launcher.settings import BaseChoice, Settings
from launcher.spec.model import Spec


class Session:
    def __init__(self, settings: Settings, engine: ContainerEngine | None = None):
        self.settings = settings
        self._engine = engine

    @classmethod
    def open(cls, spec_path: Path | None = None, bases: list[str] | None = None, **flags) -> "Session":
        """Settings.resolve(...) with the command's flags (cache, offline, registry_mirror, index_url, ca_bundle, runtime)."""
        return cls(Settings.resolve(spec_path, bases=bases, **flags))

    @property
    def engine(self) -> ContainerEngine:
        if self._engine is None:
            from launcher.engine import make_engine

            self._engine = make_engine(self.settings)
        return self._engine

    # The settings every step reads.
    @property
    def spec(self) -> Spec:
        return self.settings.spec

    @property
    def cache(self) -> Path:
        return self.settings.cache

    @property
    def repository(self) -> str:
        return self.settings.repository

    def base(self, device: str, framework: str | None = None) -> BaseChoice:
        return self.settings.base(device, framework)

    @property
    def console(self) -> Console:
        return console.err

    def say(self, message: str) -> None:
        console.say(message)
