"""Fetch ahead for air-gapped labs: every artifact and wheelhouse some images need, verified, cached.

Artifacts (images.yaml `models.*.backends.*.artifact`) go to their content-addressed path
(artifacts.artifact_path); wheels go to the wheelhouse an offline build looks for
(wheelhouse.ensure). Every artifact is checked against its digest (images.yaml's md5/sha256 and
the lock file's sha256/size); a mismatch deletes the file and fails naming both digests. Downloads
resume from a `.partial` file with HTTP Range (a server that answers 200 instead restarts them),
run a few at a time, and use only the standard library: urllib, which honours http(s)_proxy and
no_proxy; `--ca-bundle` replaces the default trust store for them and for pip (`--cert`).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rich.progress import (BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn,
                           TimeRemainingColumn, TransferSpeedColumn)

from launcher.airgap import hub
from launcher.airgap.download import Downloader, digests
from launcher.airgap.lockfile import LockFile
from launcher.build import wheelhouse
from launcher.build.artifacts import artifact_path
from launcher.errors import BuildError, FetchError, MlperfDockerError, UsageError
from launcher.session import Session
from launcher.spec.model import Artifact, HfRepo, Spec
from launcher.spec.variation import Variation, require_supported


# ---- what to fetch ------------------------------------------------------------------------------

def supported_variations(spec: Spec) -> list[Variation]:
    """Every supported (framework, device, model, precision) of the spec, as variations."""
    return [Variation.of(c) for c in spec.supported()]


@dataclass
class Plan:
    """The artifacts (by URL), Hugging Face checkpoints (by repo@revision) and wheelhouses
    ((framework, device, python)) the variations need."""

    artifacts: dict[str, Artifact] = field(default_factory=dict)
    wheelhouses: list[tuple[str, str, str]] = field(default_factory=list)
    checkpoints: dict[str, HfRepo] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.artifacts) + len(self.wheelhouses) + len(self.checkpoints)


def make_plan(session: Session, variations: list[Variation], models: bool = True) -> Plan:
    """What the variations' images need; without `models`, only wheels (stand-in images need no artifact)."""
    plan = Plan()
    for variation in variations:
        require_supported(variation, session.spec)
        backend = session.spec.backend(variation.model, variation.framework, variation.precision)
        if models and backend.artifact is not None:  # None: no verifiable real file is published
            plan.artifacts.setdefault(backend.artifact.url, backend.artifact)
        if models and backend.hf_repo is not None:
            plan.checkpoints.setdefault(hub.lock_key(backend.hf_repo), backend.hf_repo)
        for artifact in session.spec.models[variation.model].accuracy_artifacts if models else ():
            plan.artifacts.setdefault(artifact.url, artifact)
        key = (variation.framework, variation.device, session.base(variation.device, variation.framework).python)
        if key not in plan.wheelhouses:
            plan.wheelhouses.append(key)
    return plan


def fetch_command(variation: Variation) -> str:
    return f"mlperf-docker fetch --variation {variation.image_key().variation}"


# ---- one item each ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    kind: str  # "artifact", "checkpoint" or "wheels"
    name: str
    path: Path
    size: int
    downloaded: bool


def _locked(path: Path):
    """An exclusive lock beside `path`, so two fetches never write the same partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path.with_name(path.name + ".lock"), "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise FetchError(f"another mlperf-docker fetch is downloading {path.name} into {path.parent}; "
                         "wait for it or stop it") from None
    return handle


def fetch_artifact(artifact: Artifact, cache: Path, lock: LockFile, downloader: Downloader,
                   progress: "_Bars", log: Callable[[str], None]) -> Outcome:
    final = artifact_path(artifact, cache)
    expected = lock.expected(artifact)
    if final.exists():
        md5, sha256, size = digests(final)
        problem = expected.problem(md5, sha256, size)
        if problem is None:
            if lock.needs_record(artifact):
                lock.record(artifact, md5, sha256, size)
            return Outcome("artifact", artifact.name, final, size, downloaded=False)
        log(f"{artifact.name}: the cached copy fails verification: {problem}; deleted, fetching it again")
        final.unlink()
    partial = final.with_name(final.name + ".partial")
    handle = _locked(partial)
    try:
        task = progress.add(artifact.name, expected.size)
        downloader.download(artifact.url, partial, artifact.name, expected.size,
                            on_total=lambda total, done: progress.reset(task, total, done),
                            on_bytes=lambda n: progress.advance(task, n), log=log)
        md5, sha256, size = digests(partial)
        problem = expected.problem(md5, sha256, size)
        if problem is not None:
            partial.unlink()
            progress.done(task, "[red]failed")
            raise FetchError(f"{artifact.name}: {problem}, downloaded from {artifact.url}; the file was deleted")
        os.replace(partial, final)
        progress.done(task)
    finally:
        handle.close()
        Path(str(partial) + ".lock").unlink(missing_ok=True)
    if lock.needs_record(artifact):
        lock.record(artifact, md5, sha256, size)
        log(f"{artifact.name}: md5 verified; recorded sha256 {sha256} and size {size} in {lock.path}")
    return Outcome("artifact", artifact.name, final, size, downloaded=True)


def _fetch_checkpoint(hf: HfRepo, cache: Path, lock: LockFile, downloader: Downloader, token: str | None,
                      bars: "_Bars", log: Callable[[str], None]) -> Outcome:
    got = hub.fetch_checkpoint(hf, cache, lock, downloader, token, _locked, log, bars)
    return Outcome("checkpoint", got.name, got.path, got.size, got.downloaded)


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def fetch_wheels(session: Session, framework: str, device: str, python: str, progress: "_Bars",
                 log: Callable[[str], None]) -> Outcome:
    name = f"wheels {framework}-{device} (Python {python})"
    common = dict(python=python, log=log)
    try:
        target = wheelhouse.ensure(session.spec, framework, device, session.cache, session.settings.config.find_links,
                                   offline=True, **common)
    except UsageError:
        target = None
    if target is not None:
        bad = wheelhouse.verify(target)
        if not bad:
            return Outcome("wheels", name, target, _tree_size(target), downloaded=False)
        wheel, want, got = bad[0]
        log(f"{name}: {wheel} fails verification (sha256 expected {want}, got {got}); fetching the wheelhouse again")
        shutil.rmtree(target)
    task = progress.add(name, None)
    try:
        target = wheelhouse.ensure(session.spec, framework, device, session.cache, session.settings.config.find_links,
                                   index_url=session.settings.index_url, ca_bundle=session.settings.ca_bundle, **common)
    except BuildError as exc:
        progress.done(task, "[red]failed")
        raise FetchError(str(exc)) from None
    size = _tree_size(target)
    progress.reset(task, size, size)
    progress.done(task)
    return Outcome("wheels", name, target, size, downloaded=True)


# ---- progress -----------------------------------------------------------------------------------

class _Bars:
    """Rich progress bars with sizes; a task per item being downloaded."""

    def __init__(self, progress: Progress | None):
        self.progress = progress

    def add(self, name: str, total: int | None):
        return self.progress.add_task(name, total=total) if self.progress else None

    def reset(self, task, total: int | None, done: int) -> None:
        if self.progress is not None:
            self.progress.update(task, total=total, completed=done)

    def advance(self, task, n: int) -> None:
        if self.progress is not None:
            self.progress.advance(task, n)

    def done(self, task, note: str = "") -> None:
        if self.progress is not None:
            item = next(t for t in self.progress.tasks if t.id == task)
            if note:
                self.progress.update(task, description=f"{item.description} {note}")
            elif item.total is None:
                self.progress.update(task, total=item.completed)


def _progress(session: Session) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn(), console=session.console)


# ---- the command --------------------------------------------------------------------------------

@dataclass
class Report:
    outcomes: list[Outcome]
    seconds: float
    cache: Path

    @property
    def downloaded(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.downloaded]

    def summary(self) -> str:
        def count(kind: str, items: list[Outcome]) -> str:
            n = sum(1 for o in items if o.kind == kind)
            noun = {"artifact": "artifact", "wheels": "wheelhouse", "checkpoint": "checkpoint"}[kind]
            return f"{n} {noun}{'' if n == 1 else 's'}"

        def counts(items: list[Outcome]) -> str:
            checkpoints = f"{count('checkpoint', items)}, " if any(o.kind == "checkpoint" for o in items) else ""
            return f"{checkpoints}{count('artifact', items)} and {count('wheels', items)}"

        total = sum(o.size for o in self.outcomes)
        if not self.downloaded:
            return (f"nothing to download: {counts(self.outcomes)} "
                    f"already in the cache {self.cache} and verified ({total / 1e6:.1f} MB, {self.seconds:.1f} s)")
        got = sum(o.size for o in self.downloaded)
        cached = len(self.outcomes) - len(self.downloaded)
        return (f"fetched {counts(self.downloaded)} "
                f"({got / 1e6:.1f} MB) into {self.cache} in {self.seconds:.1f} s; {cached} already cached")


def fetch(session: Session, variations: list[Variation], jobs: int = 3, retries: int = 3,
          backoff: float = 0.5, timeout: float = 60.0, show_progress: bool = True, models: bool = True,
          hf_token: str | None = None, skip_gated: bool = False) -> Report:
    """Fetch and verify everything the variations' images need into session.cache. A gated Hugging Face
    checkpoint still to download needs ``hf_token`` (refused before anything is written), or is left out
    with a line when ``skip_gated`` (`--all`)."""
    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: expected a positive integer")
    started = time.monotonic()
    plan = make_plan(session, variations, models)
    lock = LockFile.beside(session.spec)
    for key, hf in list(plan.checkpoints.items()):
        if hf.gated and not hf_token and hub.fetched(session.cache, lock, hf) is None:
            if not skip_gated:
                raise UsageError(hub.no_token(hf))
            session.say(f"{key}: left out ({hub.no_token(hf)})")
            del plan.checkpoints[key]
    downloader = Downloader(ca_bundle=session.settings.ca_bundle, retries=retries, backoff=backoff, timeout=timeout)
    session.cache.mkdir(parents=True, exist_ok=True)
    progress = _progress(session) if show_progress else None
    bars = _Bars(progress)
    log = (lambda m: progress.console.print(m, markup=False)) if progress else session.say
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="fetch")
    futures = []
    try:
        if progress:
            progress.start()
        for artifact in plan.artifacts.values():
            futures.append(pool.submit(fetch_artifact, artifact, session.cache, lock, downloader, bars, log))
        for hf in plan.checkpoints.values():
            futures.append(pool.submit(_fetch_checkpoint, hf, session.cache, lock, downloader, hf_token, bars, log))
        for framework, device, python in plan.wheelhouses:
            futures.append(pool.submit(fetch_wheels, session, framework, device, python, bars, log))
        outcomes, errors = [], []
        for future in futures:
            try:
                outcomes.append(future.result())
            except MlperfDockerError as exc:
                errors.append(str(exc))
            except OSError as exc:  # the cache's disk: full, read-only, permissions
                errors.append(f"{exc.filename or 'cache'}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        downloader.cancel.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        if progress:
            progress.stop()
    if errors:
        more = f" (and {len(errors) - 1} more: {'; '.join(errors[1:])})" if len(errors) > 1 else ""
        raise FetchError(errors[0] + more)
    return Report(outcomes, time.monotonic() - started, session.cache)


def ensure_artifact(session: Session, artifact: Artifact, variation: Variation, offline: bool) -> Path:
    """The cached artifact, verified against its digests; fetched first when missing unless offline."""
    lock = LockFile.beside(session.spec)
    if not offline:
        downloader = Downloader(ca_bundle=session.settings.ca_bundle)
        return fetch_artifact(artifact, session.cache, lock, downloader, _Bars(None), session.say).path
    path = artifact_path(artifact, session.cache)
    if not path.exists():
        raise UsageError(f"{artifact.name} is not in the cache ({path}) and an --offline build downloads nothing; "
                         f"run `{fetch_command(variation)}` on a connected machine and bring the cache along")
    problem = lock.expected(artifact).problem(*digests(path))
    if problem is not None:
        path.unlink()
        raise FetchError(f"{artifact.name} in the cache fails verification: {problem}; the file was deleted: "
                         f"run `{fetch_command(variation)}` again")
    return path


def describe(session: Session, plan: Plan) -> list[str]:
    """One line per item of the plan: what, from where, to where, and whether it is cached."""
    lines = []
    for artifact in plan.artifacts.values():
        path = artifact_path(artifact, session.cache)
        lines.append(f"artifact {artifact.name} from {artifact.url} -> {path} [{'cached' if path.exists() else 'to fetch'}]")
    lock = LockFile.beside(session.spec)
    for key, hf in plan.checkpoints.items():
        path = hub.fetched(session.cache, lock, hf)
        state = "cached" if path else ("to fetch with your token" if hf.gated else "to fetch")
        lines.append(f"checkpoint {key} from {hub.endpoint()} -> {path or session.cache / 'checkpoints'} [{state}]")
    for framework, device, python in plan.wheelhouses:
        target = wheelhouse.wheelhouse_dir(session.cache, framework, device, python)
        try:
            wheelhouse.ensure(session.spec, framework, device, session.cache, session.settings.config.find_links,
                              offline=True, python=python)
            state = "cached"
        except UsageError:
            state = "to fetch"
        lines.append(f"wheels {framework}-{device} (Python {python}) -> {target} [{state}]")
    return lines
