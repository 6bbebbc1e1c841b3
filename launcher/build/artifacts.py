"""Where a build's model and dataset files come from: generated stand-ins or fetched real artifacts."""

from __future__ import annotations

import hashlib
import importlib
import shutil
from pathlib import Path

from launcher.console import say
from launcher.spec.model import Artifact


def standin(name: str, cache: Path, log=say) -> Path:
    """The generated stand-in `name` (model/, dataset/, expected.json), made once per generator version."""
    from mlperf_harness.models import standin_module

    module = importlib.import_module(standin_module(name))
    target = cache / "standins" / f"{name}-{_source_digest(module)}"
    if (target / "expected.json").exists():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    log(f"generating the {name} stand-in (tiny model + synthetic dataset) into {target}")
    module.generate(partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def _source_digest(module) -> str:
    """A stand-in is regenerated when any generator or the harness dataset code it relies on changes."""
    import mlperf_harness.models as models

    digest = hashlib.sha256()
    sources = sorted(Path(models.__file__).parent.rglob("*.py"))  # generators and dataset code
    for source in sources:
        digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's content, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_path(artifact: Artifact, cache: Path) -> Path:
    """The content-addressed cache path of a real artifact: artifacts/<algo>-<digest>/<name>."""
    algo, digest = (("sha256", artifact.sha256) if artifact.sha256 else ("md5", artifact.md5) if artifact.md5
                    else ("sha256", artifact.sha256_prefix))
    return cache / "artifacts" / f"{algo}-{digest}" / artifact.name
