"""Render templates/Dockerfile.j2 into dockerfiles/: one Dockerfile per (framework x device)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
from mlperf_harness.contract import COMPILED_DIR, DATASET_DIR, HARNESS_DIR, MODEL_DIR

from launcher.spec.model import Spec
from launcher.spec.variation import stage_name

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
# The in-image paths, from the launcher <-> harness contract (the harness and the run plan use the same).
PATHS = {"model": MODEL_DIR, "dataset": DATASET_DIR, "harness": HARNESS_DIR,
         # where a model's own packages (images.yaml models.<name>.requirements) are installed
         "model_deps": "/opt/model-deps", "compiled": COMPILED_DIR,
         # where a framework extending another installs its own packages (images.yaml frameworks.<name>.extends)
         "framework_layer": "/opt/framework-layer"}


@dataclass(frozen=True)
class Rendered:
    name: str
    text: str


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_all(spec: Spec) -> list[Rendered]:
    template = _environment().get_template("Dockerfile.j2")
    out = []
    for (framework, device), models in spec.image_groups.items():
        text = template.render(
            project=spec.project,
            framework=framework,
            framework_version=spec.framework_version(framework, device),
            compile_target=spec.frameworks[framework].compile_target,
            device=device,
            base=spec.base_for(framework, device),
            converter=spec.install(framework, device).converter,
            models=models,
            datasets={m: spec.models[m].dataset for m in models},
            model_deps=spec.deps_owners(models),
            stages={m: stage_name(m) for m in models},
            model_files={m: spec.backend(m, framework).file_name for m in models},
            paths=PATHS,
            layer=bool(spec.layer_requirements(framework, device)),
            extends=spec.frameworks[framework].extends,
        )
        out.append(Rendered(f"{framework}-{device}.Dockerfile", text))
    return out


def write(spec: Spec) -> list[Path]:
    """Write every Dockerfile into the spec's dockerfiles/ and remove ones it no longer yields."""
    directory = spec.dockerfiles
    directory.mkdir(parents=True, exist_ok=True)
    rendered = render_all(spec)
    written = []
    for item in rendered:
        path = directory / item.name
        if not path.exists() or path.read_text() != item.text:
            path.write_text(item.text)
            written.append(path)
    names = {item.name for item in rendered}
    for stale in directory.glob("*.Dockerfile"):
        if stale.name not in names:
            stale.unlink()
            written.append(stale)
    return written


def stale(spec: Spec) -> list[str]:
    """Names of Dockerfiles that differ from a fresh render, are missing, or should not exist."""
    directory = spec.dockerfiles
    rendered = {item.name: item.text for item in render_all(spec)}
    out = []
    for name, text in rendered.items():
        path = directory / name
        if not path.exists():
            out.append(f"{name} (missing)")
        elif path.read_text() != text:
            out.append(f"{name} (out of date)")
    out += [f"{p.name} (not in images.yaml)" for p in sorted(directory.glob("*.Dockerfile")) if p.name not in rendered]
    return out
