"""Local settings: where the cache lives and what a lab overrides (bases, wheel sources, builder).

Precedence, highest first: command-line flags, environment (MLPERF_DOCKER_*), the user config file
(MLPERF_DOCKER_CONFIG, else <user config dir>/mlperf-docker/config.yaml), images.yaml.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import platformdirs
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import SpecError, UsageError

Builder = Literal["auto", "buildx", "buildkit", "classic"]


class UserConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bases: dict[str, str] = {}
    repository: str | None = None
    find_links: list[str] = []
    builder: Builder = "auto"
    docker_cli: str | None = None


def config_path() -> Path:
    env = os.environ.get("MLPERF_DOCKER_CONFIG")
    return Path(env) if env else Path(platformdirs.user_config_dir("mlperf-docker")) / "config.yaml"


def cache_dir() -> Path:
    env = os.environ.get("MLPERF_DOCKER_CACHE")
    return Path(env) if env else Path(platformdirs.user_cache_dir("mlperf-docker"))


def load_config(path: Path | None = None) -> UserConfig:
    path = path or config_path()
    if not path.exists():
        return UserConfig()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        return UserConfig.model_validate(raw)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise SpecError(f"{path}: {where}: {err['msg']}") from None


def save_config(config: UserConfig, path: Path | None = None) -> Path:
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config.model_dump(exclude_defaults=True), sort_keys=True))
    tmp.replace(path)
    return path


def parse_base_overrides(values: list[str] | None) -> dict[str, str]:
    """`--base cpu=IMAGE` pairs into a dict."""
    out: dict[str, str] = {}
    for value in values or []:
        device, sep, image = value.partition("=")
        if not sep or not device or not image:
            raise UsageError(f"--base expects DEVICE=IMAGE (got {value!r})")
        out[device] = image
    return out


def base_image(device: str, default: str, cli: dict[str, str], config: UserConfig) -> str:
    env = os.environ.get(f"MLPERF_DOCKER_BASE_{device.upper()}")
    return cli.get(device) or env or config.bases.get(device) or default


def repository(default: str, config: UserConfig) -> str:
    """The image repository prefix (a lab registry namespace, say) for every tag."""
    return os.environ.get("MLPERF_DOCKER_REPOSITORY") or config.repository or default
