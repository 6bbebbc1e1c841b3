"""images.yaml's entries: devices and their bases, frameworks and their installs, models, their backends,
artifacts and datasets (pydantic models; `launcher.spec.model` assembles them into the Spec)."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9_,-]+\])?==[A-Za-z0-9.+!_-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _name(pin: str) -> str:
    """A pin's distribution name, normalised (PEP 503)."""
    return re.sub(r"[-_.]+", "-", pin.split("==")[0].split("[")[0]).lower()


def _pinned(reqs: list[str]) -> list[str]:
    for req in reqs:
        if not _PIN.match(req):
            raise ValueError(f"a pinned requirement NAME==VERSION (got {req!r})")
    return reqs


class Base(_Strict):
    image: str
    python: str = Field(pattern=r"^3\.\d+$")
    platform: Literal["linux/amd64", "linux/arm64"] = "linux/amd64"
    glibc: str = Field(default="2.28", pattern=r"^2\.\d+$")
    # Shell commands run as root in the base stage (e.g. installing python on a CUDA base).
    setup: list[str] = []
    # Pins replacing the harness's pins of the same names on this base (its Python lacks their wheels,
    # or its framework needs other versions).
    harness_pins: list[str] = []

    _check = field_validator("harness_pins")(lambda cls, v: _pinned(v))


class Device(_Strict):
    base: Optional[Base] = None
    refuse: Optional[str] = None

    @model_validator(mode="after")
    def _base_or_reason(self) -> "Device":
        if (self.base is None) == (self.refuse is None):
            raise ValueError("exactly one of `base` or `refuse` (a reason)")
        return self


class Converter(_Strict):
    """A build-time conversion of the model files (its own image stage): `script` (a harness file,
    standard library only) run with the `requirements` installed without their dependencies."""
    requirements: list[str]
    script: str = Field(pattern=r"^[a-z0-9_/]+\.py$")

    _check = field_validator("requirements")(lambda cls, v: _pinned(v))


class Install(_Strict):
    requirements: list[str]
    # The framework's version in this install, where it differs from the framework's `version`.
    version: Optional[str] = None
    index_url: Optional[str] = None
    extra_index_urls: list[str] = []
    # This (framework, device)'s own base, where the framework needs another runtime than the device's.
    base: Optional[Base] = None
    # Converts the model files at build time (ncnn: ONNX -> param/bin), into the model's image layer.
    converter: Optional[Converter] = None

    _check = field_validator("requirements")(lambda cls, v: _pinned(v))


class Framework(_Strict):
    aliases: list[str] = []
    version: Optional[str] = None
    # TVM: the CPU target its images compile the model for at build time (a `<model>-tvm` stage runs
    # the harness's backends/tvm_compile.py); named in the image label io.mlperf-docker.tvm-target.
    compile_target: Optional[str] = None
    # Another framework whose install (and so its shared environment layer) this one's images start from;
    # `installs.<device>.requirements` are then installed on top, in a layer of their own.
    extends: Optional[str] = None
    installs: dict[str, Install] = {}
    # Per-device reasons where `installs` has no entry; a string refuses every device.
    refuse: Optional[str | dict[str, str]] = None

    @field_validator("compile_target")
    @classmethod
    def _target(cls, value: Optional[str]) -> Optional[str]:
        from mlperf_harness.backends.tvm_target import check

        return None if value is None else check(value)  # ValueError: pydantic's one-line refusal

    def refusal(self, device: str) -> Optional[str]:
        if isinstance(self.refuse, str):
            return self.refuse
        if device in self.installs:
            return None
        return (self.refuse or {}).get(device)


class Precision(_Strict):
    aliases: list[str] = []


class Artifact(_Strict):
    name: str
    url: str = Field(pattern=r"^(https?|file)://")
    sha256: Optional[str] = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    md5: Optional[str] = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    # torch.hub's convention (load_state_dict_from_url's check_hash, open_clip's download check): the file
    # name ends in `-<the first hex digits of its sha256>.<ext>`, the only digest its publisher gives.
    sha256_prefix: Optional[str] = Field(default=None, pattern=r"^[0-9a-f]{8,63}$")
    size: Optional[int] = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _digest(self) -> "Artifact":
        if not (self.sha256 or self.md5 or self.sha256_prefix):
            raise ValueError("a digest: `sha256` (or `md5` or `sha256_prefix` where that is all that is published)")
        if self.sha256_prefix and f"-{self.sha256_prefix}." not in self.name:
            raise ValueError(f"sha256_prefix: {self.name} does not carry it "
                             f"(torch.hub's NAME-{self.sha256_prefix}.EXT)")
        return self


class HfRepo(_Strict):
    """A Hugging Face model repository the real run mounts (never baked: too large), fetched by `fetch`
    with the user's own token where `gated`; `revision`'s commit is recorded in the lock file on the first
    verified fetch. `files`: the patterns (fnmatch) of the files the harness loads."""

    repo: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
    revision: str = Field(default="main", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
    files: list[str] = Field(min_length=1)
    gated: bool = False


class PrecisionVariant(_Strict):
    """What one precision of a backend uses instead of the fp32 entry's (a quantized model), or why not."""

    standin: Optional[str] = None
    artifact: Optional[Artifact] = None
    refuse: Optional[str] = None


class Backend(_Strict):
    precisions: list[str]
    standin: str
    # precision -> device -> the reason that precision is refused on that device (supported elsewhere).
    device_refuse: dict[str, dict[str, str]] = {}
    # precision -> its own model (stand-in and artifact) or its reason for every device.
    by_precision: dict[str, PrecisionVariant] = {}
    # The real model file (URL + digest). Where none is published with a digest, `model_file` names the
    # file the harness loads (stand-in or a user's --model) and `real_refuse` says why --real is refused.
    artifact: Optional[Artifact] = None
    model_file: Optional[str] = None
    real_refuse: Optional[str] = None
    # The real checkpoint folder `fetch` downloads and `run --real` mounts as `model_file` (never baked).
    hf_repo: Optional[HfRepo] = None

    @model_validator(mode="after")
    def _artifact_or_reason(self) -> "Backend":
        if self.artifact is None and not (self.model_file and self.real_refuse):
            raise ValueError("an `artifact`, or `model_file` with a `real_refuse` reason")
        if self.hf_repo is not None and self.artifact is not None:
            raise ValueError("`hf_repo` or `artifact`, not both (an hf_repo is mounted, an artifact baked)")
        return self

    @property
    def file_name(self) -> str:
        """The file the harness loads: `model_file` where given (a build-time conversion's output),
        else the artifact's name."""
        return self.model_file or self.artifact.name  # type: ignore[union-attr]

    def for_precision(self, precision: str) -> "Backend":
        """This entry with the precision's own stand-in and artifact in place of the fp32 ones."""
        variant = self.by_precision.get(precision)
        if variant is None:
            return self
        return self.model_copy(update={k: v for k, v in (("standin", variant.standin),
                                                          ("artifact", variant.artifact)) if v is not None})


class Dataset(_Strict):
    description: str
    samples: int = Field(gt=0)  # the real dataset's sample count: an accuracy run scores every one
    layout: str
    index_file: str  # the file a folder of this dataset must hold (checked before a mount)
    redistributable: bool
    standin: str


class Model(_Strict):
    task: Optional[str] = None
    loadgen_key: Optional[str] = None
    dataset: Optional[str] = None
    performance_sample_count: Optional[int] = None
    accuracy_target: Optional[str] = None
    # Pinned Python packages this model's harness code needs (its accuracy script, its sliding window),
    # installed into the model's own image layer, so the framework layers stay shared.
    requirements: list[str] = []
    # Names of pins above published as source only (no wheel): pure-Python packages the wheelhouse builds
    # into a wheel on the host (`pip wheel --no-deps`), so image builds still install wheels only.
    source_builds: list[str] = []
    # The models its accuracy script scores with (sdxl: CLIP and FID encoders), never downloaded at run time:
    # `mlperf-docker fetch` fetches and verifies them with the model's real artifacts.
    accuracy_artifacts: list[Artifact] = []
    # The scenarios the reference runs this model in; empty: all four.
    scenarios: list[Literal["Offline", "Server", "SingleStream", "MultiStream"]] = []
    backends: dict[str, Backend] = {}
    refuse: Optional[str] = None
    # What a user must know before running it (shown by `list`): user mounts, retirement.
    note: Optional[str] = None
    # Runs in this other model's image (same checkpoint, dataset and stand-in; only LoadGen's settings
    # differ, e.g. llama2-70b-interactive-99 in llama2-70b-99's): no image or Dockerfile stage of its own.
    image: Optional[str] = None

    _check = field_validator("requirements")(lambda cls, v: _pinned(v))

    @model_validator(mode="after")
    def _backends_or_reason(self) -> "Model":
        unknown = [n for n in self.source_builds if n not in {_name(p) for p in self.requirements}]
        if unknown:
            raise ValueError(f"source_builds: {unknown[0]} is not one of `requirements`")
        if not self.backends and not self.refuse:
            raise ValueError("`backends` or a `refuse` reason")
        if self.backends and not (self.loadgen_key and self.dataset and self.performance_sample_count):
            raise ValueError("`loadgen_key`, `dataset` and `performance_sample_count` for a model with backends")
        return self


class Harness(_Strict):
    requirements: list[str]

    _check = field_validator("requirements")(lambda cls, v: _pinned(v))


class Project(_Strict):
    name: str
    source: str
    repository: str = Field(pattern=r"^[a-z0-9]+([._/-][a-z0-9]+)*$")
