"""`mlperf-docker lock`: resolve every supported image's full requirement set for its real base with pip's
own resolver (launcher/resolve.py) and record the resolved versions and sha256s in the lock file.

An image whose index cannot be reached here is *unchecked* and named as such (its earlier lock entry, if
any, is kept); an image pip cannot resolve is an error. Nothing is installed or downloaded beyond metadata.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from . import resolve as resolver
from ..errors import UsageError


@dataclass(frozen=True)
class ImageSet:
    """What one (framework, device) image installs, and into what."""

    name: str  # <framework>-<device>
    base_image: str
    target: resolver.Target
    requirements: tuple[str, ...]
    index_url: Optional[str] = None
    extra_index_urls: tuple[str, ...] = ()
    no_deps: bool = False  # a converter stage installs exactly its pins (pip --no-deps)

    @property
    def index_urls(self) -> list[str]:
        return ([self.index_url] if self.index_url else ["https://pypi.org/simple"]) + list(self.extra_index_urls)

    def describe(self) -> dict:
        return {"base": self.base_image, "python": self.target.python, "platform": self.target.platform,
                "glibc": self.target.glibc, "requirements": list(self.requirements),
                "index_urls": self.index_urls}


CONVERTER_SUFFIX = "-converter"


def image_sets(spec, names: Sequence[str] = ()) -> list[ImageSet]:
    """One ImageSet per supported (framework, device) of the spec, in matrix order (all, or those named),
    each followed by its build-time converter's set where it has one (`<framework>-<device>-converter`)."""
    out = []
    for framework, device in spec.image_groups:
        name = f"{framework}-{device}"
        if names and name not in names:
            continue
        base = spec.base_for(framework, device)
        install = spec.install(framework, device)
        target = resolver.Target(base.python, base.platform, base.glibc)
        out.append(ImageSet(name=name, base_image=base.image, target=target,
                            requirements=tuple(_with_model_pins(spec, framework, device)),
                            index_url=install.index_url, extra_index_urls=tuple(install.extra_index_urls)))
        if install.converter is not None:
            # The build-time converter's own environment (its stage installs these pins, and nothing else,
            # on the same base): resolved by itself, so that it is complete and fits the base.
            out.append(ImageSet(name=f"{name}{CONVERTER_SUFFIX}", base_image=base.image, target=target,
                                requirements=tuple(install.converter.requirements), no_deps=True))
    unknown = sorted(set(names) - {s.name for s in out})
    if unknown:
        known = ", ".join(f"{f}-{d}" for f, d in spec.image_groups)
        raise UsageError(f"no supported image {unknown[0]}; the images are {known}")
    return out


def _with_model_pins(spec, framework: str, device: str) -> list[str]:
    """The image family's environment pins plus every model layer's own pins (installed on top of that
    environment), so that pip checks they fit together."""
    pins = spec.requirements(framework, device)
    for model in spec.image_groups.get((framework, device), []):
        pins += [p for p in spec.models[model].requirements if p not in pins]
    return pins


def source_wheels(spec, sets: Sequence[ImageSet], dest, index_url: Optional[str] = None,
                  cert: Optional[str] = None, log: Callable[[str], None] = print) -> dict[str, str]:
    """Build the models' `source_builds` pins (published as source only, so pip's binary-only resolver
    cannot see them) into pure-Python wheels in ``dest``, which the resolution then takes as a
    --find-links folder, as the image's own wheel fetch does. Returns {image: reason} for the images
    that stay unchecked because the build failed (e.g. PyPI not reachable)."""
    from launcher.build.child import pip_environment
    from launcher.build.wheelhouse import build_source_wheels, source_pins
    from launcher.errors import BuildError

    per_image = {s.name: source_pins(spec, spec.image_groups.get(tuple(s.name.rsplit("-", 1)), []))
                 for s in sets}
    pins = sorted({p for ps in per_image.values() for p in ps})
    if not pins:
        return {}
    # As isolated as the resolution: none of this machine's pip settings, only the lab's index if given.
    isolated = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env = pip_environment(index_url, (), cert, base=dict(isolated, PIP_CONFIG_FILE=os.devnull))
    try:
        build_source_wheels(pins, Path(dest), env, cert, log=log)
    except BuildError as exc:
        return {name: f"{name}: unchecked, {exc}" for name, ps in per_image.items() if ps}
    return {}


@dataclass
class LockResult:
    resolved: dict[str, list[resolver.Resolved]] = field(default_factory=dict)
    unchecked: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def lock(sets: Sequence[ImageSet], isolated: bool = True, find_links: Sequence[str] = (), jobs: int = 2,
         log: Callable[[str], None] = print, resolve: Optional[Callable] = None,
         retries: Optional[int] = 1, index_url: Optional[str] = None, cert: Optional[str] = None,
         unchecked: Optional[dict[str, str]] = None) -> LockResult:
    """Resolve every set (``jobs`` at a time). ``isolated``: only images.yaml's indexes (and ``find_links``),
    none of this machine's pip settings, so the answer is the one any machine would get. ``index_url``
    (a lab's mirror of PyPI) replaces the images' default index; ``cert`` is the CA bundle pip trusts.
    ``unchecked`` ({image: reason}) names images known beforehand not to be checkable here."""
    result = LockResult()
    resolve = resolve or resolver.resolve

    def one(image: ImageSet):
        if image.name in (unchecked or {}):
            return image, None, ("unchecked", unchecked[image.name])
        try:
            return image, resolve(image.name, image.requirements, image.target,
                                  index_url=index_url or image.index_url, extra_index_urls=image.extra_index_urls,
                                  find_links=find_links, isolated=isolated, retries=retries, cert=cert,
                                  **({"no_deps": True} if image.no_deps else {})), None
        except resolver.IndexUnreachable as exc:
            return image, None, ("unchecked", str(exc))
        except resolver.ResolveError as exc:
            return image, None, ("failed", str(exc))

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for image, dists, problem in pool.map(one, sets):
            if problem is None:
                result.resolved[image.name] = dists
                log(f"resolved  {image.name}: {len(dists)} distributions for Python {image.target.python} "
                    f"glibc {image.target.glibc} ({image.base_image})")
            elif problem[0] == "unchecked":
                result.unchecked[image.name] = problem[1]
                log(f"unchecked {problem[1]}")
            else:
                result.failed[image.name] = problem[1]
                log(f"FAILED    {problem[1]}")
    return result


def lock_entries(sets: Sequence[ImageSet], result: LockResult, previous: dict) -> dict:
    """The lock file's `images:` section after ``result``: resolved images replaced, unchecked or failed
    ones keep an earlier entry made for the same inputs (else they are recorded as unchecked)."""
    entries = {}
    for image in sets:
        inputs = image.describe()
        if image.name in result.resolved:
            entries[image.name] = dict(inputs, resolved=[d.as_dict() for d in result.resolved[image.name]])
            continue
        old = previous.get(image.name)
        if old and all(old.get(k) == v for k, v in inputs.items()) and old.get("resolved"):
            entries[image.name] = old
        else:
            reason = result.unchecked.get(image.name) or result.failed.get(image.name)
            entries[image.name] = dict(inputs, unchecked=reason)
    return entries
