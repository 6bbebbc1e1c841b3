"""`mlperf-docker lock`: check that every supported image's pins resolve for its real base (pip's own
resolver, metadata only) and record the resolved versions and sha256s in images.lock.yaml."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Optional

import typer

from launcher.cli.common import CaBundleOption, CacheOption, IndexUrlOption, SpecOption, err, handled, open_session, out
from launcher.errors import FetchError


def lock(
    image: Optional[list[str]] = typer.Option(None, "--image", "-i",
                                              help="only this image, <framework>-<device> (repeatable; default: all)"),
    check: bool = typer.Option(False, "--check", help="resolve and report only; write nothing"),
    host_pip: bool = typer.Option(False, "--host-pip-config",
                                  help="also use this machine's pip settings (config files, PIP_* variables, "
                                       "find-links); default: only images.yaml's indexes, as any machine sees them"),
    jobs: int = typer.Option(2, "--jobs", "-j", help="images resolved at a time"),
    index_url: Optional[str] = IndexUrlOption, ca_bundle: Optional[Path] = CaBundleOption,
    spec_path: Optional[Path] = SpecOption, cache: Optional[Path] = CacheOption,
) -> None:
    """Resolve every supported image's requirements for its base's Python, platform and glibc (pip
    --dry-run --report, no multi-GB downloads) and record versions and sha256s in the lock file.
    Images whose index is unreachable from here are listed as unchecked."""
    from launcher.airgap import lock as lock_mod
    from launcher.airgap.lockfile import LockFile

    session = open_session(spec_path, cache, None, index_url=index_url, ca_bundle=ca_bundle)
    settings = session.settings
    sets = lock_mod.image_sets(session.spec, image or ())
    ca = str(settings.ca_bundle) if settings.ca_bundle else None
    log = lambda line: err.print(line, markup=False)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="mlperf-docker-source-wheels-") as built:
        unbuilt = lock_mod.source_wheels(session.spec, sets, built, settings.index_url, ca, log)
        find_links = (list(settings.config.find_links) if host_pip else []) + [built]
        result = lock_mod.lock(sets, isolated=not host_pip, find_links=find_links, jobs=jobs, log=log,
                               index_url=settings.index_url, cert=ca, unchecked=unbuilt)
    lockfile = LockFile.beside(session.spec)
    if not check:
        previous = lockfile.images()
        entries = dict(previous)
        entries.update(lock_mod.lock_entries(sets, result, previous))
        lockfile.record_images(entries)
    out.print(f"{len(result.resolved)} resolved, {len(result.unchecked)} unchecked, {len(result.failed)} failed"
              + ("" if check else f"; recorded in {lockfile.path}"), markup=False)
    if result.unchecked:
        out.print("unchecked (index not reachable from here): " + ", ".join(result.unchecked), markup=False)
    if result.failed:
        raise FetchError(f"{len(result.failed)} image(s) do not resolve on their base: "
                         + "; ".join(result.failed.values()))


def register(app: typer.Typer) -> None:
    app.command("lock")(handled(lock))
