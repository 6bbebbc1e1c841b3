"""Build the image for a variation: wheels and artifacts into a staged context, then the engine."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from rich.status import Status

from launcher.build import artifacts
from launcher.build import context
from launcher.build import wheelhouse
from launcher.engine.docker_engine import BuildRequest
from launcher.errors import UsageError
from launcher.spec.render import ROOT, stale
from launcher.session import Session
from launcher.spec.variation import ImageKey, Variation, require_supported


@dataclass(frozen=True)
class BuildResult:
    tag: str
    seconds: float
    size: int


def revision() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def image_tag(session: Session, key: ImageKey) -> str:
    return session.settings.image_tag(key)


def build_args(settings: Settings, key: ImageKey) -> dict[str, str]:
    """The build arguments of an image: one function for `build` and for `matrix --format bake`."""
    base = settings.base(key.device, key.framework)
    args = {
        "BASE_IMAGE": base.image,
        "PYTHON_VERSION": base.python,
        "REVISION": revision(),
        "SPEC_DIGEST": settings.spec.digest,
        "ARTIFACTS": "standin" if key.standin else "real",
        "PRECISION": key.precision,  # a converter stage converts the model for it (onnxruntime float16)
    }
    if target := settings.compile_target(key.framework):
        args["TVM_TARGET"] = target
    return args


def require_real_artifact(spec, model: str, framework: str, precision: str) -> None:
    """A real image bakes the model's published, verifiable file: refused (with the spec's reason) without one."""
    backend = spec.backend(model, framework, precision)
    if backend.artifact is None:
        raise UsageError(f"no real {model} model for {framework}: {backend.real_refuse}")


def prepare(session: Session, variation: Variation, standin: bool = True, no_cache: bool = False) -> BuildRequest:
    """Everything a build needs, staged: wheels, model, dataset and harness in a fresh context folder."""
    spec = session.spec
    offline = session.settings.offline
    require_supported(variation, spec)
    key = variation.image_key(standin)
    if stale_files := [s for s in stale(spec) if s.startswith(key.dockerfile)]:
        raise UsageError(f"{spec.dockerfiles / stale_files[0]}: run `mlperf-docker render` first")
    model = spec.models[key.model]
    backend = spec.backend(key.model, key.framework, key.precision)
    assert model.dataset is not None
    if not standin:  # refused before anything is fetched or written
        require_real_artifact(spec, key.model, key.framework, key.precision)
    base = session.base(key.device, key.framework)
    wheels = wheelhouse.ensure(spec, key.framework, key.device, session.cache, session.settings.config.find_links,
                               offline=offline, log=session.say, python=base.python,
                               index_url=session.settings.index_url, ca_bundle=session.settings.ca_bundle)
    if offline and not session.engine.image_exists(base.image):
        raise UsageError(f"base image {base.image} is not in the local image store and an --offline build pulls "
                         f"nothing; load it (`docker load`) or name a local one (--base {key.device}=IMAGE)")
    if standin:
        made = artifacts.standin(backend.standin, session.cache, log=session.say)
        model_files = sorted((made / "model").iterdir())
        dataset_dir: Path | None = made / "dataset"
    else:
        from launcher.airgap.fetch import ensure_artifact  # verified against its digest; fetched first unless offline

        model_files = [ensure_artifact(session, backend.artifact, variation, offline)]
        dataset_dir = None  # not redistributable: mounted at run time
    # The classic builder runs every stage before the target: the other models' folders must exist too.
    siblings = {m: spec.models[m].dataset for m in spec.image_groups[(key.framework, key.device)]}
    ctx = context.stage(session.cache, spec.dockerfiles / key.dockerfile, wheels, key.model, model_files,
                        model.dataset, dataset_dir, siblings, spec_file=spec.path)
    return BuildRequest(
        context=ctx,
        dockerfile=ctx / "Dockerfile",
        target=key.target,
        tag=image_tag(session, key),
        build_args=build_args(session.settings, key),
        # Bases with set-up steps may need the network (apt) unless offline; every other step never does.
        network="none" if not spec.base_for(key.framework, key.device).setup or offline else None,
        no_cache=no_cache,
    )


def build_image(session: Session, variation: Variation, standin: bool = True, no_cache: bool = False) -> BuildResult:
    started = time.monotonic()
    session.engine.ensure_reachable()  # fail fast, with one clear line, when the engine is unreachable
    request = prepare(session, variation, standin, no_cache)
    tag = request.tag
    log_path = session.cache / "logs" / f"build-{tag.replace('/', '_').replace(':', '_')}.log"
    base = request.build_args["BASE_IMAGE"]
    session.say(f"building {tag} from {request.dockerfile.name} of {variation} (target {request.target}, base {base})")
    try:
        with Status(f"building {tag}", console=session.console) as status:
            def progress(step: str) -> None:
                session.console.print(f"  {step}", markup=False, style="dim", overflow="ellipsis", no_wrap=True)
                status.update(f"building {tag}: {step[:60]}")
            session.engine.build(request, progress, log_path)
    finally:
        shutil.rmtree(request.context, ignore_errors=True)
    seconds = time.monotonic() - started
    info = session.engine.image_info(tag)
    size = info.size if info else 0
    session.say(f"built {tag} in {seconds:.1f} s ({size / 1e6:.0f} MB)")
    return BuildResult(tag, seconds, size)


def stage_to(session: Session, variation: Variation, out: Path, standin: bool = True) -> Path:
    """Write the build context to `out` (for bake or a build elsewhere); refuses a non-empty folder."""
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"--out {out}: exists and is not empty")
    request = prepare(session, variation, standin)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.rmdir()
    shutil.move(str(request.context), out)
    (out / "build-args.json").write_text(json.dumps(request.build_args, indent=1) + "\n")
    return out
