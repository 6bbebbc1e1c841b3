"""The one settings cascade: flag > environment (MLPERF_DOCKER_*) > user config > images.yaml.

The user config file is MLPERF_DOCKER_CONFIG, else <user config dir>/mlperf-docker/config.yaml.
`Settings.resolve(...)` applies the cascade once per command and returns frozen Settings: the spec,
the cache, the bases, the repository, the offline switch, the mirror, the index URL, the CA bundle and
the container runtime.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal, Mapping

import platformdirs
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from launcher.errors import SpecError, UsageError
from launcher.spec.model import Spec, load_spec
from launcher.airgap.mirror import normalise as normalise_mirror, rewrite as rewrite_image

Builder = Literal["auto", "buildx", "buildkit", "classic"]
RUNTIMES = ("docker", "podman", "apptainer")
Runtime = Literal["docker", "podman", "apptainer"]


class BaseChoice(BaseModel):
    """A device's base image and the Python version it carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str
    python: str | None = Field(default=None, pattern=r"^3\.\d+$")


class UserConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # DEVICE -> IMAGE, or DEVICE -> {image: IMAGE, python: "X.Y"} for a base whose Python differs from images.yaml's.
    bases: dict[str, str | BaseChoice] = {}
    repository: str | None = None
    find_links: list[str] = []
    builder: Builder = "auto"
    docker_cli: str | None = None
    # The container runtime (--runtime, MLPERF_DOCKER_RUNTIME) and where apptainer finds its SIF files.
    runtime: Runtime = "docker"
    sif_dir: str | None = None
    # Air-gapped labs: a registry mirror prefix for remote base images, and the package index and CA
    # bundle the host-side wheel fetch uses (they never reach an image).
    registry_mirror: str | None = None
    index_url: str | None = None
    ca_bundle: str | None = None
    # TVM images: the CPU target to compile for instead of images.yaml's compile_target (--tvm-target).
    tvm_target: str | None = None


def config_path() -> Path:
    env = os.environ.get("MLPERF_DOCKER_CONFIG")
    return Path(env) if env else Path(platformdirs.user_config_dir("mlperf-docker")) / "config.yaml"


def cache_dir(flag: Path | None = None) -> Path:
    """--cache, then MLPERF_DOCKER_CACHE, then the user cache dir."""
    if flag is not None:
        return flag.expanduser().resolve()
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


def parse_base_overrides(values: list[str] | None) -> dict[str, BaseChoice]:
    """`--base cpu=IMAGE` or `--base cuda=IMAGE,python=3.11` into {device: BaseChoice}."""
    out: dict[str, BaseChoice] = {}
    for value in values or []:
        device, sep, rest = value.partition("=")
        image, _, option = rest.partition(",")
        python = option.removeprefix("python=") if option.startswith("python=") else None
        if not sep or not device or not image or (option and python is None):
            raise UsageError(f"--base expects DEVICE=IMAGE[,python=X.Y] (got {value!r})")
        try:
            out[device] = BaseChoice(image=image, python=python)
        except ValidationError:
            raise UsageError(f"--base {value!r}: python must look like 3.11") from None
    return out


def base_choice(device: str, default: BaseChoice, cli: dict[str, BaseChoice], config: UserConfig,
                mirror: str | None = None) -> BaseChoice:
    """The base for a device: --base, then MLPERF_DOCKER_BASE_<DEVICE>[_PYTHON], then the config file.

    A registry `mirror` rewrites every choice but an explicit --base (see launcher/mirror.py)."""
    env_image = os.environ.get(f"MLPERF_DOCKER_BASE_{device.upper()}")
    env_python = os.environ.get(f"MLPERF_DOCKER_BASE_{device.upper()}_PYTHON")
    configured = config.bases.get(device)
    if isinstance(configured, str):
        configured = BaseChoice(image=configured)
    choice = cli.get(device) or (BaseChoice(image=env_image, python=env_python) if env_image else None) \
        or configured or default
    image = choice.image if device in cli else rewrite_image(choice.image, mirror)
    return BaseChoice(image=image, python=choice.python or default.python)


def repository(default: str, config: UserConfig) -> str:
    """The image repository prefix (a lab registry namespace, say) for every tag."""
    return _setting(None, "MLPERF_DOCKER_REPOSITORY", config.repository) or default


def _setting(flag: str | None, env: str, configured: str | None) -> str | None:
    return flag or os.environ.get(env) or configured or None


def registry_mirror(flag: str | None, config: UserConfig) -> str | None:
    """--registry-mirror, then MLPERF_DOCKER_REGISTRY_MIRROR, then `registry_mirror:` in the config."""
    return normalise_mirror(_setting(flag, "MLPERF_DOCKER_REGISTRY_MIRROR", config.registry_mirror))


def index_url(flag: str | None, config: UserConfig) -> str | None:
    """--index-url, then MLPERF_DOCKER_INDEX_URL, then `index_url:` in the config (host-side pip only)."""
    return _setting(flag, "MLPERF_DOCKER_INDEX_URL", config.index_url)


def ca_bundle(flag: str | Path | None, config: UserConfig) -> Path | None:
    """--ca-bundle, then MLPERF_DOCKER_CA_BUNDLE, then `ca_bundle:` in the config: a PEM file that must exist."""
    value = _setting(str(flag) if flag else None, "MLPERF_DOCKER_CA_BUNDLE", config.ca_bundle)
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise UsageError(f"CA bundle {value}: no such file (a PEM file of CA certificates)")
    return path.resolve()


def runtime(flag: str | None, config: UserConfig) -> str:
    """--runtime, then MLPERF_DOCKER_RUNTIME, then `runtime:` in the config (default docker)."""
    value = _setting(flag, "MLPERF_DOCKER_RUNTIME", config.runtime) or "docker"
    if value not in RUNTIMES:
        raise UsageError(f"--runtime {value!r}: expected one of {', '.join(RUNTIMES)}")
    return value


def sif_dir(cache: Path, config: UserConfig) -> Path:
    """MLPERF_DOCKER_SIF_DIR, then `sif_dir:` in the config, then <cache>/sif: apptainer's SIF files."""
    value = _setting(None, "MLPERF_DOCKER_SIF_DIR", config.sif_dir)
    return Path(value).expanduser() if value else cache / "sif"


def tvm_target(flag: str | None, config: UserConfig) -> str | None:
    """--tvm-target, then MLPERF_DOCKER_TVM_TARGET, then `tvm_target:` in the config: checked and made
    canonical here, before anything is written (mlperf_harness/backends/tvm_target.py says what passes)."""
    from mlperf_harness.backends.tvm_target import check

    value = _setting(flag, "MLPERF_DOCKER_TVM_TARGET", config.tvm_target)
    if value is None:
        return None
    try:
        return check(value)
    except ValueError as exc:
        raise UsageError(f"--tvm-target: {exc}") from None


_mirror_setting, _index_setting, _ca_setting, _runtime_setting, _tvm_setting = (
    registry_mirror, index_url, ca_bundle, runtime, tvm_target)  # (shadowed by resolve's flags)


@dataclass(frozen=True)
class Settings:
    """Every local setting of one command, resolved once (see `resolve`)."""

    spec: Spec
    config: UserConfig
    cache: Path
    base_overrides: Mapping[str, BaseChoice] = field(default_factory=dict)
    # Air-gapped labs: build from the cache only (no wheel or artifact download, no pull); a registry
    # mirror for remote bases; the package index and CA bundle for host-side fetches only.
    offline: bool = False
    registry_mirror: str | None = None
    index_url: str | None = None
    ca_bundle: Path | None = None
    runtime: str = "docker"
    tvm_target: str | None = None  # None: each TVM framework's images.yaml compile_target

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_overrides", MappingProxyType(dict(self.base_overrides)))

    @classmethod
    def resolve(cls, spec_path: Path | None = None, cache: Path | None = None, bases: list[str] | None = None, *,
                offline: bool = False, registry_mirror: str | None = None, index_url: str | None = None,
                ca_bundle: Path | None = None, runtime: str | None = None,
                tvm_target: str | None = None) -> "Settings":
        """The cascade: each argument is the flag's value (None: not given)."""
        config = load_config()
        return cls(spec=load_spec(spec_path), config=config, cache=cache_dir(cache),
                   base_overrides=parse_base_overrides(bases), offline=offline,
                   registry_mirror=_mirror_setting(registry_mirror, config),
                   index_url=_index_setting(index_url, config), ca_bundle=_ca_setting(ca_bundle, config),
                   runtime=_runtime_setting(runtime, config), tvm_target=_tvm_setting(tvm_target, config))

    def base(self, device: str, framework: str | None = None) -> BaseChoice:
        """The base image and its Python for a device (a framework's own base on that device, where it
        has one), after every override: an override names a device and applies to all its images."""
        declared = self.spec.base_for(framework, device) if framework else self.spec.base(device)
        return base_choice(device, BaseChoice(image=declared.image, python=declared.python),
                           dict(self.base_overrides), self.config, mirror=self.registry_mirror)

    @property
    def repository(self) -> str:
        return repository(self.spec.project.repository, self.config)

    def compile_target(self, framework: str) -> str | None:
        """The CPU target a TVM framework's images compile for (None: the framework compiles nothing)."""
        declared = self.spec.frameworks[framework].compile_target
        return (self.tvm_target or declared) if declared else None

    def image_tag(self, key) -> str:
        """An ImageKey's tag; a TVM image compiled for another target than images.yaml's gets a suffix
        naming that target, so the default-target image is never overwritten."""
        tag = key.tag(self.repository)
        target = self.compile_target(key.framework)
        if target and target != self.spec.frameworks[key.framework].compile_target:
            from mlperf_harness.backends.tvm_target import tag_suffix

            tag += "-" + tag_suffix(target)
        return tag
