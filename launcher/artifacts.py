"""Where a build's model and dataset files come from: generated stand-ins or fetched real artifacts."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

from .errors import UsageError
from .spec import Artifact


def standin(name: str, cache: Path, log=print) -> Path:
    """The generated stand-in `name` (model/, dataset/, expected.json), made once per generator version."""
    module = importlib.import_module(f"launcher.standins.{name}")
    version = getattr(module, "VERSION", 1)
    target = cache / "standins" / f"{name}-v{version}"
    if (target / "expected.json").exists():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    log(f"generating the {name} stand-in (tiny model + synthetic dataset) into {target}")
    module.generate(partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def artifact_path(artifact: Artifact, cache: Path) -> Path:
    """The content-addressed cache path of a real artifact: artifacts/<algo>-<digest>/<name>."""
    algo, digest = ("sha256", artifact.sha256) if artifact.sha256 else ("md5", artifact.md5)
    return cache / "artifacts" / f"{algo}-{digest}" / artifact.name


def real_artifact(artifact: Artifact, cache: Path, variation: str) -> Path:
    path = artifact_path(artifact, cache)
    if not path.exists():
        raise UsageError(f"{artifact.name} is not in the cache ({path}); fetch it from {artifact.url} "
                         f"(`mlperf-docker fetch --variation {variation}`) or place a verified copy there")
    return path
