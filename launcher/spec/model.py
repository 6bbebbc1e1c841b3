"""images.yaml: the typed model, its loader and the support matrix it yields."""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import Field, ValidationError, model_validator

from launcher.errors import SpecError
from launcher.spec.entries import (  # noqa: F401 (the schema's names, re-exported for importers)
    Artifact, Backend, Base, Dataset, Device, Framework, Harness, HfRepo, Install, Model, Precision, Project, _name,
    _Strict)

DEFAULT_SPEC = Path(__file__).resolve().parents[2] / "images.yaml"


class Combination(_Strict):
    """One (framework, device, model, precision) and whether it is supported."""

    framework: str
    device: str
    model: str
    precision: str
    reason: Optional[str] = None
    image_model: Optional[str] = None  # the model whose image it runs in (images.yaml `image`), if another

    @property
    def supported(self) -> bool:
        return self.reason is None


class Spec(_Strict):
    schema_version: Literal[1]
    project: Project
    harness: Harness
    devices: dict[str, Device]
    frameworks: dict[str, Framework]
    precisions: dict[str, Precision]
    datasets: dict[str, Dataset]
    models: dict[str, Model]
    # Host-side tools pinned like the images' inputs (the submission checker: launcher/submission).
    tools: dict[str, dict] = Field(default_factory=dict)
    digest: str = ""
    # Where the file lives: its dockerfiles/ folder sits beside it.
    path: Path = DEFAULT_SPEC

    @property
    def dockerfiles(self) -> Path:
        return self.path.parent / "dockerfiles"

    @model_validator(mode="after")
    def _cross_refs(self) -> "Spec":
        for fname, fw in self.frameworks.items():
            for dev in fw.installs:
                if dev not in self.devices:
                    raise ValueError(f"frameworks.{fname}.installs.{dev}: unknown device (known: {', '.join(self.devices)})")
                parent = self.frameworks.get(fw.extends) if fw.extends else None
                if fw.extends and (parent is None or parent.extends or dev not in parent.installs):
                    raise ValueError(f"frameworks.{fname}.extends: {fw.extends!r} is not a framework installed on "
                                     f"{dev} (that extends no other)")
        for mname, model in self.models.items():
            if model.dataset and model.dataset not in self.datasets:
                raise ValueError(f"models.{mname}.dataset: unknown dataset {model.dataset!r}")
            host = self.models.get(model.image) if model.image else None
            if model.image and (host is None or host.image or host.backends != model.backends
                                or host.dataset != model.dataset):
                raise ValueError(f"models.{mname}.image: {model.image!r} is not a model with its own image and "
                                 "the same backends and dataset")
            for bname, backend in model.backends.items():
                if bname not in self.frameworks:
                    raise ValueError(f"models.{mname}.backends.{bname}: unknown framework")
                for p in backend.precisions:
                    if p not in self.precisions:
                        raise ValueError(f"models.{mname}.backends.{bname}.precisions: unknown precision {p!r}")
                for p in backend.by_precision:
                    if p not in backend.precisions:
                        raise ValueError(f"models.{mname}.backends.{bname}.by_precision.{p}: not in its precisions")
                for p, devices in backend.device_refuse.items():
                    if p not in backend.precisions:
                        raise ValueError(f"models.{mname}.backends.{bname}.device_refuse.{p}: not in its precisions")
                    if unknown := [d for d in devices if d not in self.devices]:
                        raise ValueError(f"models.{mname}.backends.{bname}.device_refuse.{p}: unknown device {unknown[0]!r}")
        # A framework's models' own pins are fetched into one wheelhouse together: they must agree.
        pinned: dict[str, tuple[str, str]] = {}
        for mname, model in self.models.items():
            for pin in model.requirements:
                other = pinned.setdefault(_name(pin), (mname, pin))
                if other[1] != pin:
                    raise ValueError(f"models.{mname}.requirements: {pin} but models.{other[0]} pins {other[1]} "
                                     "(models share a framework's wheelhouse: pin one version)")
        return self

    # ---- queries -------------------------------------------------------------------------------

    def base(self, device: str) -> Base:
        base = self.devices[device].base
        assert base is not None, f"device {device} has no base"
        return base

    def install(self, framework: str, device: str) -> Install:
        """The (framework, device) install; for a framework that `extends` another, that one's install
        with this one's pins and indexes added (the whole set the image pins)."""
        fw = self.frameworks[framework]
        own = fw.installs[device]
        if not fw.extends:
            return own
        parent = self.install(fw.extends, device)
        return Install(requirements=parent.requirements + own.requirements, version=own.version,
                       index_url=own.index_url or parent.index_url,
                       extra_index_urls=parent.extra_index_urls + [u for u in own.extra_index_urls
                                                                   if u not in parent.extra_index_urls],
                       base=own.base or parent.base)

    def layer_requirements(self, framework: str, device: str) -> list[str]:
        """The pins installed on top of the shared environment (a framework that `extends` another: its
        own), else none."""
        fw = self.frameworks[framework]
        return list(fw.installs[device].requirements) if fw.extends else []

    def base_for(self, framework: str, device: str) -> Base:
        """The base of one (framework, device) image: the install's own, else the device's."""
        install = self.install(framework, device) if device in self.frameworks[framework].installs else None
        return (install and install.base) or self.base(device)

    def requirements(self, framework: str, device: str) -> list[str]:
        """Everything the image pins: the harness's pins (with its base's `harness_pins` in place of the
        same-named ones), then the framework's."""
        override = {_name(p): p for p in self.base_for(framework, device).harness_pins}
        harness = [override.pop(_name(p), p) for p in self.harness.requirements]
        return harness + list(override.values()) + list(self.install(framework, device).requirements)

    def index_urls(self, framework: str, device: str) -> list[str]:
        """The package indexes the image's install reads (PyPI unless replaced), in pip's order."""
        install = self.install(framework, device)
        return [install.index_url or "https://pypi.org/simple"] + list(install.extra_index_urls)

    def framework_version(self, framework: str, device: str) -> str:
        install = self.frameworks[framework].installs.get(device)
        return (install and install.version) or self.frameworks[framework].version or "unknown"

    def backend(self, model: str, framework: str, precision: str = "fp32") -> Backend:
        """A model's backend entry, with the precision's own model (`by_precision`) where it has one."""
        return self.models[model].backends[framework].for_precision(precision)

    def check(self, framework: str, device: str, model: str, precision: str) -> Combination:
        """The combination, with the reason it is refused (None when supported)."""
        reason = self.devices[device].refuse
        if reason is None:
            reason = self.frameworks[framework].refusal(device)
            if reason is None and device not in self.frameworks[framework].installs:
                reason = f"{framework} has no install for {device} in images.yaml"
        if reason is None:
            m = self.models[model]
            if m.refuse and not m.backends:
                reason = m.refuse
            elif framework not in m.backends:
                reason = m.refuse or f"{model} has no {framework} backend yet"
            elif precision not in m.backends[framework].precisions:
                backend = m.backends[framework]
                published = ", ".join(p for p in backend.precisions
                                      if not (p in backend.by_precision and backend.by_precision[p].refuse)
                                      and device not in backend.device_refuse.get(p, {}))
                reason = f"{model} on {framework} ({device}) is published in {published} only"
            else:
                backend = m.backends[framework]
                variant = backend.by_precision.get(precision)
                reason = (variant and variant.refuse) or backend.device_refuse.get(precision, {}).get(device)
        return Combination(framework=framework, device=device, model=model, precision=precision, reason=reason,
                           image_model=self.models[model].image)

    @cached_property
    def image_groups(self) -> dict[tuple[str, str], list[str]]:
        """(framework, device) -> its supported models, in images.yaml order: one Dockerfile each."""
        out: dict[tuple[str, str], list[str]] = {}
        for fname in self.frameworks:
            for dev in self.devices:
                models = [
                    m for m, model in self.models.items()
                    if not model.image and any(self.check(fname, dev, m, p).supported for p in self.precisions)
                ]
                if models:
                    out[(fname, dev)] = models
        return out

    def deps_owners(self, models: list[str]) -> dict[str, Optional[str]]:
        """Model -> the model whose `requirements` layer it uses (the first of `models` with the same
        pins, so 3d-unet-99 and 3d-unet-99.9 share one), or None where it has none."""
        owners: dict[str, Optional[str]] = {}
        for m in models:
            pins = self.models[m].requirements
            owners[m] = next((o for o in models if self.models[o].requirements == pins), None) if pins else None
        return owners

    def supported(self) -> list[Combination]:
        """Every supported (framework, device, model, precision): one image each."""
        return [c for c in self.matrix() if c.supported]

    def matrix(self) -> list[Combination]:
        """Every (framework, device, model) with its first supported precision, or the refusal."""
        rows = []
        for fname in self.frameworks:
            for dev in self.devices:
                for m in self.models:
                    checks = [self.check(fname, dev, m, p) for p in self.precisions]
                    ok = [c for c in checks if c.supported]
                    rows.extend(ok if ok else [checks[0]])
        return rows

    def precision_refusals(self) -> list[Combination]:
        """The precisions a backend refuses on some devices (`device_refuse`, a `by_precision` reason), for
        `list`: matrix() shows a (framework, device, model) by its supported precisions alone."""
        return [c for fname in self.frameworks for dev in self.devices for m, model in self.models.items()
                if fname in model.backends and dev in self.frameworks[fname].installs
                for p in dict.fromkeys([*model.backends[fname].device_refuse, *model.backends[fname].by_precision])
                if not (c := self.check(fname, dev, m, p)).supported]


def _key_path(loc: tuple) -> str:
    return ".".join(str(p) for p in loc if not str(p).startswith("function-after"))


def _first_error(exc: ValidationError, source: Path) -> str:
    errors = exc.errors()
    err = errors[0]
    path = _key_path(err["loc"]) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if err["type"] == "missing":
        msg = "a value is required"
    elif err["type"] == "extra_forbidden":
        msg = "an unknown key"
    return f"{source}: {path}: expected {msg}{more}" if not msg.startswith(("an unknown", "a value")) \
        else f"{source}: {path}: {msg}{more}"


def load_spec(path: Path | str | None = None) -> Spec:
    """Read and validate images.yaml; every problem becomes a SpecError naming file and key path."""
    source = Path(path) if path else DEFAULT_SPEC
    try:
        raw_bytes = source.read_bytes()
    except OSError as exc:
        raise SpecError(f"{source}: cannot read ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SpecError(f"{source}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: expected a mapping at the top level")
    raw["digest"] = "sha256:" + hashlib.sha256(raw_bytes).hexdigest()
    try:
        return Spec.model_validate(raw).model_copy(update={"path": source.resolve()})
    except ValidationError as exc:
        raise SpecError(_first_error(exc, source)) from None
