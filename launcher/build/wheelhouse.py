"""Host-side wheelhouse: the wheels an image installs, fetched for the image's Python and platform.

Builds install them with `pip install --no-index`, so no build step needs a package index (or the
proxy's CA certificate). A wheelhouse is complete when its stamp matches the requirements it was made
for; then it is reused without asking any index.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

from launcher.build.artifacts import sha256_file
from launcher.airgap.resolve import platform_tags
from launcher.build.child import pip_environment, run_child
from launcher.console import say
from launcher.errors import BuildError, UsageError
from launcher.spec.model import Base, Spec

STAMP = ".complete.json"
MODEL_WHEELS = "model-wheels"  # the models' own wheels and requirements-<model>.txt, a subfolder
# A framework that extends another: the wheels it adds on top of the shared environment (with
# requirements.txt pinning exactly those), a subfolder.
FRAMEWORK_WHEELS = "framework-wheels"


def pip_platforms(base: Base) -> list[str]:
    """Every platform tag a base with this glibc accepts (pip matches --platform exactly): the same
    list `mlperf-docker lock` resolves with."""
    return platform_tags(base.platform, base.glibc)


def requirements(spec: Spec, framework: str, device: str) -> list[str]:
    """What the image's shared virtual environment installs: the harness's pins (with its base's
    `harness_pins` in place of the same-named ones) and the framework's (for a framework that extends
    another, that one's: its own go into a layer on top)."""
    layer = spec.layer_requirements(framework, device)
    return [r for r in spec.requirements(framework, device) if r not in layer]


def _reachable(extra_index_urls, ca_bundle, log) -> list[str]:
    """The extra indexes that answer. One that cannot be reached at all is left out with a warning: pip
    would otherwise retry it for every package (minutes), and its wheels may be in --find-links; a pin
    found nowhere else still fails, with pip's reason."""
    from launcher.airgap.download import unreachable
    from launcher.airgap.resolve import redact

    kept = []
    for url in extra_index_urls:
        if (why := unreachable(url, Path(ca_bundle) if ca_bundle else None)) is None:
            kept.append(url)
        else:
            log(f"warning: index {redact(url)} is not reachable ({why}); fetching from the others and --find-links")
    return kept


def _link_or_copy(src: Path, dst: Path) -> None:
    """A hard link (same file system: no bytes copied), else a copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _keep_added(folder: Path, shared: Path) -> None:
    """Leave in `folder` only the wheels `shared` lacks, and pin exactly those in its requirements.txt."""
    from packaging.utils import parse_wheel_filename

    pins = []
    for wheel in sorted(folder.glob("*.whl")):
        if (shared / wheel.name).exists():
            wheel.unlink()
        else:
            name, version, _, _ = parse_wheel_filename(wheel.name)
            pins.append(f"{name}=={version}")
    (folder / "requirements.txt").write_text("".join(f"{p}\n" for p in pins))


def model_requirements(spec: Spec, framework: str, device: str) -> dict[str, list[str]]:
    """Model -> the pins its own image layer installs (requirements-<model>.txt in the wheelhouse), for
    the models of this image family that own such a layer (Spec.deps_owners)."""
    owners = spec.deps_owners(spec.image_groups.get((framework, device), []))
    return {m: list(spec.models[m].requirements) for m, owner in owners.items() if owner == m}


CONVERTER = "converter"  # requirements-converter.txt: the converter's pins, in model-wheels/ too


def layer_requirements(spec: Spec, framework: str, device: str) -> dict[str, list[str]]:
    """The pins installed with --no-deps in layers of their own: each model's (model_requirements),
    and the framework's build-time converter's (as CONVERTER)."""
    out = model_requirements(spec, framework, device)
    converter = spec.install(framework, device).converter
    if converter is not None:
        out[CONVERTER] = list(converter.requirements)
    return out


def model_requirements_file(model: str) -> str:
    return f"requirements-{model}.txt"


def wheelhouse_dir(cache: Path, framework: str, device: str, python: str) -> Path:
    return cache / "wheels" / f"{framework}-{device}-cp{python.replace('.', '')}"


def _fingerprint(reqs: list[str], platforms: list[str], python: str, sources: list[str]) -> str:
    blob = json.dumps({"requirements": reqs, "platforms": platforms, "python": python, "sources": sources})
    return hashlib.sha256(blob.encode()).hexdigest()


def ensure(spec: Spec, framework: str, device: str, cache: Path, find_links: list[str],
           offline: bool = False, log=say, python: str | None = None, index_url: str | None = None,
           ca_bundle: Path | str | None = None) -> Path:
    """Return a complete wheelhouse directory (wheels + requirements.txt), downloading if needed.

    `python` is the base's Python when an override differs from images.yaml's. `index_url` (replacing
    the install's index) and `ca_bundle` (pip --cert) only say where and how to download the pinned
    wheels, so they are not part of the fingerprint: a wheelhouse fetched through a lab's index is
    the one an offline build finds."""
    base = spec.base_for(framework, device)
    python = python or base.python
    install = spec.install(framework, device)
    reqs = requirements(spec, framework, device)
    per_model = layer_requirements(spec, framework, device)
    platforms = pip_platforms(base)
    sources = [install.index_url or ""] + list(install.extra_index_urls) + list(find_links)
    layer = spec.layer_requirements(framework, device)
    fingerprint = _fingerprint(reqs + [f"layer:{r}" for r in layer] + [f"{m}:{r}" for m, rs in per_model.items() for r in rs],
                               platforms, python, sources)
    target = wheelhouse_dir(cache, framework, device, python)
    stamp = target / STAMP
    if stamp.exists() and json.loads(stamp.read_text()).get("fingerprint") == fingerprint:
        return target
    if offline:
        raise UsageError(f"wheels for {framework}-{device} are not in the cache {target}; "
                         f"run `mlperf-docker fetch --variation _{framework},_{device}` on a connected machine")
    # A framework extending another starts from that one's wheelhouse (the same wheels/, so its images
    # share that environment layer), fetched first if need be.
    shared = ensure(spec, spec.frameworks[framework].extends, device, cache, find_links, offline, log, python,
                    index_url, ca_bundle) if layer else None
    # Download into a fresh folder and swap it in at the end: a failed or interrupted fetch leaves the
    # previous wheelhouse as it was, and no stale wheel from an older pin lingers.
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    (partial / "requirements.txt").write_text("\n".join(reqs) + "\n")
    log(f"fetching wheels for {framework}-{device} (Python {python}, {base.platform}) into {target}")
    downloads = [(partial, ["requirements.txt"], False)]
    if shared is not None:
        for wheel in shared.glob("*.whl"):
            _link_or_copy(wheel, partial / wheel.name)
        downloads = []
    if layer:
        # The shared set plus the layer's pins, resolved together (so the added wheels fit the shared
        # ones); afterwards only the added wheels are kept. The shared wheels are put in the download
        # folder first: pip takes a file already there ("already downloaded") instead of fetching the
        # whole shared set (torch's GBs) again for a layer of a few wheels.
        (partial / FRAMEWORK_WHEELS).mkdir()
        for wheel in partial.glob("*.whl"):
            _link_or_copy(wheel, partial / FRAMEWORK_WHEELS / wheel.name)
        (partial / FRAMEWORK_WHEELS / "layer.txt").write_text("\n".join(layer) + "\n")
        downloads.append((partial / FRAMEWORK_WHEELS, ["../requirements.txt", "layer.txt"], False))
    if per_model:
        # The models' own pins go to their own folder (their image layers install it with --no-deps: their
        # dependencies, such as numpy, are the environment's), so the shared layers' wheels/ is unchanged.
        (partial / MODEL_WHEELS).mkdir()
        for model, pins in per_model.items():
            (partial / MODEL_WHEELS / model_requirements_file(model)).write_text("\n".join(pins) + "\n")
        downloads.append((partial / MODEL_WHEELS, [model_requirements_file(m) for m in per_model], True))
    # Index URLs may carry credentials: they reach pip through its environment (PIP_INDEX_URL,
    # PIP_EXTRA_INDEX_URL), never its command line, which any user sees in `ps`.
    env = pip_environment(index_url or install.index_url, _reachable(install.extra_index_urls, ca_bundle, log),
                          str(ca_bundle) if ca_bundle else None)
    if per_model:
        build_source_wheels(source_pins(spec, per_model), partial / MODEL_WHEELS, env, ca_bundle, find_links, log)
    for dest, files, no_deps in downloads:
        args = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--only-binary=:all:",
                "--implementation", "cp", "--python-version", python, "--dest", str(dest)]
        args += ["--no-deps", "--find-links", str(dest)] if no_deps else []
        for name in files:
            args += ["--requirement", str(dest / name)]
        for platform in platforms:
            args += ["--platform", platform]
        if ca_bundle:
            args += ["--cert", str(ca_bundle)]
        for link in find_links + ([str(partial)] if dest != partial else []):
            args += ["--find-links", link]
        proc = run_child(args, env=env)  # dies with the launcher (SIGTERM, SIGHUP, Ctrl-C, even SIGKILL)
        if proc.returncode != 0:
            lines = [l for l in (proc.stderr or proc.stdout).splitlines() if l.strip()]
            last = lines[-1].strip() if lines else f"pip exited with {proc.returncode}"
            shutil.rmtree(partial, ignore_errors=True)
            raise BuildError(f"fetching wheels for {framework}-{device} failed: {last}")
    if layer:
        (partial / FRAMEWORK_WHEELS / "layer.txt").unlink()
        _keep_added(partial / FRAMEWORK_WHEELS, partial)
    files = {p.relative_to(partial).as_posix(): sha256_file(p)
             for p in sorted(partial.glob("*.whl")) + sorted(partial.glob(f"{MODEL_WHEELS}/*.whl"))
             + sorted(partial.glob(f"{FRAMEWORK_WHEELS}/*.whl"))}
    (partial / STAMP).write_text(json.dumps({"fingerprint": fingerprint, "requirements": reqs, "files": files}, indent=1))
    old = target.with_name(target.name + ".old")
    if target.exists():
        target.rename(old)
    partial.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def source_pins(spec: Spec, models) -> list[str]:
    """The `source_builds` pins of these models: pure-Python packages published as source only."""
    from launcher.spec.model import _name

    return sorted({p for m in models if m != CONVERTER for p in spec.models[m].requirements
                   if _name(p) in {_name(n) for n in spec.models[m].source_builds}})


def build_source_wheels(pins: list[str], dest: Path, env: dict, ca_bundle=None, find_links=(), log=say) -> None:
    """Build ``pins`` from their source distributions into `py3-none-any` wheels in `dest`, where a
    download or resolution that follows finds them (--find-links). Raises BuildError with pip's last line."""
    if not pins:
        return
    log(f"building {', '.join(pins)} from source into pure-Python wheels (no wheel is published)")
    args = [sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--no-deps", "--no-binary=:all:",
            "--wheel-dir", str(dest)] + (["--cert", str(ca_bundle)] if ca_bundle else [])
    for link in find_links:
        args += ["--find-links", str(link)]
    proc = run_child(args + pins, env=env)
    if proc.returncode != 0:
        lines = [l for l in (proc.stderr or proc.stdout).splitlines() if l.strip()]
        raise BuildError(f"building {', '.join(pins)} from source failed: "
                         f"{lines[-1].strip() if lines else proc.returncode}")
    impure = [w.name for w in dest.glob("*.whl") if not w.name.endswith("-none-any.whl")]
    if impure:
        raise BuildError(f"source_builds must be pure-Python packages; {impure[0]} is not")


def verify(target: Path) -> list[tuple[str, str, str]]:
    """Check a complete wheelhouse's wheels against the sha256 its stamp recorded when they were
    fetched; returns (wheel, expected, got) for each mismatch ("missing" for a wheel that is gone).
    Stamps older than the recorded digests have nothing to check."""
    files = json.loads((target / STAMP).read_text()).get("files", {})
    bad = []
    for name, expected in files.items():
        path = target / name
        got = sha256_file(path) if path.exists() else "missing"
        if got != expected:
            bad.append((name, expected, got))
    return bad
