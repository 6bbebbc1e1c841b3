"""Commands about images: `list`, `render`, `build`, `stage`, `matrix`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from launcher.cli.common import (BaseOption, CaBundleOption, CacheOption, IndexUrlOption, MirrorOption, OfflineOption,
                                 RuntimeOption, SpecOption, TvmTargetOption, VARIATION_HELP, check_tvm_flag, err, handled,
                                 open_session, out)
from launcher.cli.listing import install_fields, refused_table, supported_table
from launcher.errors import UsageError
from launcher.spec.variation import PARAMETRIC, Grammar, ImageKey, parse_variation


@handled
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="print every combination as JSON"),
    variations: bool = typer.Option(False, "--variations", help="list the variation names by group"),
    all_rows: bool = typer.Option(False, "--all", help="add the refused combinations with their reasons"),
    spec_path: Optional[Path] = SpecOption, cache: Optional[Path] = CacheOption, base: Optional[list[str]] = BaseOption,
) -> None:
    """Show the support matrix: the supported images, and with --all every refusal and its reason."""
    spec = open_session(spec_path, cache, base).spec
    if variations:
        groups = {g: sorted(f"_{n}" for n in names) for g, names in Grammar(spec).groups.items()}
        groups.update({p: [f"_{p}.N"] for p in PARAMETRIC})
        if as_json:
            out.print_json(json.dumps(groups))
        else:
            for group, names in groups.items():
                out.print(f"{group}: {' '.join(names)}", markup=False)
        return
    rows = spec.matrix() + spec.precision_refusals()
    if as_json:
        payload = [
            {"framework": c.framework, "device": c.device, "model": c.model, "precision": c.precision,
             "supported": c.supported, "reason": c.reason, "note": spec.models[c.model].note,
             "image": ImageKey.of(c, standin=False).tag(spec.project.repository) if c.supported else None,
             **install_fields(spec, c.framework, c.device, c.model)}
            for c in rows
        ]
        out.print(json.dumps(payload, indent=1), markup=False)
        return
    out.print(supported_table(rows))
    for name, model in spec.models.items():
        if model.note and model.backends:
            out.print(f"{name}: {model.note}", markup=False)
    refused = sum(1 for c in rows if not c.supported)
    if all_rows:
        out.print(refused_table(spec, rows))
        out.print("(all): every value refused for the same reason; `--json` lists each combination", markup=False)
    else:
        out.print(f"{refused} combinations are refused: `--all` lists them with their reasons", markup=False)


@handled
def render(
    check: bool = typer.Option(False, "--check", help="exit 1 naming stale files instead of writing"),
    spec_path: Optional[Path] = SpecOption, cache: Optional[Path] = CacheOption, base: Optional[list[str]] = BaseOption,
) -> None:
    """Render dockerfiles/ from images.yaml and templates/."""
    from launcher.spec import render as render_mod

    spec = open_session(spec_path, cache, base).spec
    if check:
        stale = render_mod.stale(spec)
        if stale:
            err.print(f"error: stale dockerfiles: {', '.join(stale)}; run `mlperf-docker render`", markup=False)
            raise typer.Exit(1)
        out.print(f"dockerfiles/ is up to date ({len(spec.image_groups)} files)", markup=False)
        return
    written = render_mod.write(spec)
    for path in written:
        out.print(f"wrote {path}" if path.exists() else f"removed {path}", markup=False)
    if not written:
        out.print("dockerfiles/ already up to date", markup=False)


@handled
def build(
    variation: Optional[str] = typer.Option(None, "--variation", "-v", help=VARIATION_HELP),
    real: bool = typer.Option(False, "--real", help="bake the real model from the cache instead of the stand-in"),
    no_cache: bool = typer.Option(False, "--no-cache", help="rebuild every layer"),
    offline: bool = OfflineOption,
    index_url: Optional[str] = IndexUrlOption,
    ca_bundle: Optional[Path] = CaBundleOption,
    registry_mirror: Optional[str] = MirrorOption,
    runtime: Optional[str] = RuntimeOption,
    tvm_target: Optional[str] = TvmTargetOption,
    spec_path: Optional[Path] = SpecOption, cache: Optional[Path] = CacheOption, base: Optional[list[str]] = BaseOption,
) -> None:
    """Build the image for a variation (tag: <repo>/<framework>-<device>:<model>-<precision>[-standin])."""
    from launcher.build.image import build_image

    session = open_session(spec_path, cache, base, offline=offline, index_url=index_url, ca_bundle=ca_bundle,
                           registry_mirror=registry_mirror, runtime=runtime, tvm_target=tvm_target)
    chosen = parse_variation(variation, session.spec)
    check_tvm_flag(tvm_target, session, chosen.framework)
    result = build_image(session, chosen, standin=not real, no_cache=no_cache)
    out.print(result.tag, markup=False)


@handled
def stage(
    variation: Optional[str] = typer.Option(None, "--variation", "-v", help=VARIATION_HELP),
    out_dir: Path = typer.Option(..., "--out", help="folder to write the build context into (new or empty)"),
    real: bool = typer.Option(False, "--real", help="the real model from the cache instead of the stand-in"),
    spec_path: Optional[Path] = SpecOption, cache: Optional[Path] = CacheOption, base: Optional[list[str]] = BaseOption,
) -> None:
    """Write a variation's build context (Dockerfile, wheels, model, dataset, harness) without building."""
    from launcher.build.image import stage_to

    session = open_session(spec_path, cache, base)
    written = stage_to(session, parse_variation(variation, session.spec), out_dir, standin=not real)
    out.print(str(written), markup=False)


@handled
def matrix(
    fmt: str = typer.Option("github", "--format", help="github (include-list JSON) or bake (docker-bake.json)"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="bake: file to write (default docker-bake.json)"),
    context_root: str = typer.Option("build/contexts", "--context-root", help="bake: where staged contexts live"),
    spec_path: Optional[Path] = SpecOption, cache: Optional[Path] = CacheOption, base: Optional[list[str]] = BaseOption,
) -> None:
    """The CI image matrix images.yaml yields."""
    from launcher.build import matrix as matrix_mod

    settings = open_session(spec_path, cache, base).settings
    if fmt == "github":
        out.print(matrix_mod.github(settings), markup=False, soft_wrap=True)
    elif fmt == "bake":
        target = output or Path("docker-bake.json")
        target.write_text(json.dumps(matrix_mod.bake(settings, context_root), indent=2) + "\n")
        out.print(f"wrote {target}", markup=False)
    else:
        raise UsageError(f"--format {fmt!r}: expected github or bake")


def register(app: typer.Typer) -> None:
    app.command("list")(list_cmd)
    for command in (render, build, stage, matrix):
        app.command(command.__name__)(command)
