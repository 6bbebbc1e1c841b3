"""The `mlperf-docker` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from launcher.build import base_image
from launcher.spec import render as render_mod
from launcher.settings import load_config, save_config
from launcher.cli.common import (BaseOption, CaBundleOption, IndexUrlOption, MirrorOption, OfflineOption, SpecOption,
                         VARIATION_HELP, err, handled, out)
from launcher.errors import UsageError
from launcher.run.results import metric
from launcher.session_tmp import Session
from launcher.spec.model import load_spec
from launcher.spec.variation import PARAMETRIC, Grammar, ImageKey, parse_variation

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Build and run the MLPerf inference reference benchmarks in containers.")
base_app = typer.Typer(no_args_is_help=True, help="Base images for machines that cannot pull.")
app.add_typer(base_app, name="base")


@app.command("list")
@handled
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="print the matrix as JSON"),
    variations: bool = typer.Option(False, "--variations", help="list the variation names by group"),
    all_rows: bool = typer.Option(True, "--all/--supported", help="include refused combinations"),
    spec_path: Optional[Path] = SpecOption,
) -> None:
    """Show the support matrix: every framework x device x model, supported or refused with its reason."""
    spec = load_spec(spec_path)
    if variations:
        grammar = Grammar(spec)
        groups = {g: sorted(f"_{n}" for n in names) for g, names in grammar.groups.items()}
        groups.update({p: [f"_{p}.N"] for p in PARAMETRIC})
        if as_json:
            out.print_json(json.dumps(groups))
        else:
            for group, names in groups.items():
                out.print(f"{group}: {' '.join(names)}", markup=False)
        return
    rows = [c for c in spec.matrix() if all_rows or c.supported]
    if as_json:
        payload = [
            {"framework": c.framework, "device": c.device, "model": c.model, "precision": c.precision,
             "supported": c.supported, "reason": c.reason,
             "image": ImageKey(c.framework, c.device, c.model, c.precision, standin=False).tag(spec.project.repository)
             if c.supported else None}
            for c in rows
        ]
        out.print(json.dumps(payload, indent=1), markup=False)
        return
    table = Table("framework", "device", "model", "precision", "status", "reason")
    for c in _collapsed(spec, rows):
        table.add_row(c.framework, c.device, c.model, c.precision if c.supported else "-",
                      "[green]supported[/]" if c.supported else "[red]refused[/]", c.reason or "")
    out.print(table)
    out.print("(all): every value refused for the same reason; `--json` lists each combination", markup=False)


def _collapsed(spec, rows):
    """Fold refusals that hold for a whole device or a whole framework into one row each."""
    seen = set()
    for c in rows:
        if not c.supported and spec.devices[c.device].refuse:
            key = ("device", c.device)
            c = c.model_copy(update={"framework": "(all)", "model": "(all)"})
        elif not c.supported and spec.frameworks[c.framework].refusal(c.device):
            key = ("framework", c.framework, c.device)
            c = c.model_copy(update={"model": "(all)"})
        else:
            key = ("row", c.framework, c.device, c.model, c.precision)
        if key not in seen:
            seen.add(key)
            yield c


@app.command()
@handled
def render(
    check: bool = typer.Option(False, "--check", help="exit 1 naming stale files instead of writing"),
    spec_path: Optional[Path] = SpecOption,
) -> None:
    """Render dockerfiles/ from images.yaml and templates/."""
    spec = load_spec(spec_path)
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


@app.command()
@handled
def build(
    variation: Optional[str] = typer.Option(None, "--variation", "-v", help=VARIATION_HELP),
    base: Optional[list[str]] = BaseOption,
    real: bool = typer.Option(False, "--real", help="bake the real model from the cache instead of the stand-in"),
    no_cache: bool = typer.Option(False, "--no-cache", help="rebuild every layer"),
    offline: bool = OfflineOption,
    index_url: Optional[str] = IndexUrlOption,
    ca_bundle: Optional[Path] = CaBundleOption,
    registry_mirror: Optional[str] = MirrorOption,
    spec_path: Optional[Path] = SpecOption,
) -> None:
    """Build the image for a variation (tag: <repo>/<framework>-<device>:<model>-<precision>[-standin])."""
    from launcher.build.image import build_image

    session = Session.open(spec_path, base, offline=offline, index_url=index_url, ca_bundle=ca_bundle,
                           registry_mirror=registry_mirror)
    result = build_image(session, parse_variation(variation, session.spec), standin=not real, no_cache=no_cache)
    out.print(result.tag, markup=False)


@app.command()
@handled
def stage(
    variation: Optional[str] = typer.Option(None, "--variation", "-v", help=VARIATION_HELP),
    out: Path = typer.Option(..., "--out", help="folder to write the build context into (new or empty)"),
    real: bool = typer.Option(False, "--real", help="the real model from the cache instead of the stand-in"),
    base: Optional[list[str]] = BaseOption,
    spec_path: Optional[Path] = SpecOption,
) -> None:
    """Write a variation's build context (Dockerfile, wheels, model, dataset, harness) without building."""
    from launcher.build.image import stage_to

    session = Session.open(spec_path, base)
    out_dir = stage_to(session, parse_variation(variation, session.spec), out, standin=not real)
    typer.echo(str(out_dir))


@app.command()
@handled
def matrix(
    fmt: str = typer.Option("github", "--format", help="github (include-list JSON) or bake (docker-bake.json)"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="bake: file to write (default docker-bake.json)"),
    context_root: str = typer.Option("build/contexts", "--context-root", help="bake: where staged contexts live"),
    spec_path: Optional[Path] = SpecOption,
) -> None:
    """The CI image matrix images.yaml yields."""
    from launcher.build import matrix as matrix_mod

    session = Session.open(spec_path)
    if fmt == "github":
        out.print(matrix_mod.github(session.spec, session.repository), markup=False, soft_wrap=True)
    elif fmt == "bake":
        target = output or Path("docker-bake.json")
        target.write_text(json.dumps(matrix_mod.bake(session.spec, session.repository, context_root), indent=2) + "\n")
        out.print(f"wrote {target}", markup=False)
    else:
        raise UsageError(f"--format {fmt!r}: expected github or bake")


@app.command()
@handled
def run(
    variation: Optional[str] = typer.Option(None, "--variation", "-v", help=VARIATION_HELP),
    scenario: Optional[str] = typer.Option(None, "--scenario", help="Offline, Server, SingleStream, MultiStream (comma list)"),
    mode: str = typer.Option("accuracy", "--mode", help="accuracy, performance or both"),
    count: Optional[int] = typer.Option(None, "--count", help="dataset samples to use (default: all)"),
    test_query_count: Optional[int] = typer.Option(None, "--test_query_count", "--test-query-count",
                                                   help="queries in a test-style performance run"),
    max_batchsize: Optional[int] = typer.Option(None, "--max_batchsize", "--max-batchsize"),
    threads: Optional[int] = typer.Option(None, "--threads", "--num_threads", help="backend threads"),
    target_qps: Optional[float] = typer.Option(None, "--target_qps", "--target-qps", help="Offline and Server"),
    offline_target_qps: Optional[float] = typer.Option(None, "--offline_target_qps"),
    server_target_qps: Optional[float] = typer.Option(None, "--server_target_qps"),
    target_latency: Optional[float] = typer.Option(None, "--target_latency", "--target-latency", help="ms"),
    singlestream_target_latency: Optional[float] = typer.Option(None, "--singlestream_target_latency", help="ms"),
    multistream_target_latency: Optional[float] = typer.Option(None, "--multistream_target_latency", help="ms"),
    run_style: str = typer.Option("test", "--run_style", "--run-style", help="test (quick) or valid (MLPerf minimums)"),
    hw_name: Optional[str] = typer.Option(None, "--hw_name", "--hw-name", help="system name prefix (default: hostname)"),
    output_dir: Path = typer.Option(Path("mlperf-results"), "--output_dir", "--output-dir",
                                    help="a new folder per run is made inside"),
    custom_model: Optional[Path] = typer.Option(None, "--model", help="a custom model file (mounted read-only)"),
    imagenet_path: Optional[Path] = typer.Option(None, "--imagenet_path", "--imagenet-path",
                                                 help="your ImageNet validation folder (mounted read-only)"),
    dataset_path: Optional[Path] = typer.Option(None, "--dataset_path", "--dataset-path",
                                                help="your copy of the model's dataset (mounted read-only)"),
    dataset_args: Optional[str] = typer.Option(None, "--dataset_args", "--dataset-args", help="key=value[,key=value]"),
    rerun: bool = typer.Option(False, "--rerun", help="run even if this configuration has complete results"),
    clean: bool = typer.Option(False, "--clean", help="remove earlier incomplete runs in --output_dir first"),
    user: Optional[str] = typer.Option(None, "--user", help="UID[:GID] in the container (default: yours)"),
    timeout: float = typer.Option(3600.0, "--timeout", help="stop the benchmark after this many seconds"),
    real: bool = typer.Option(False, "--real", help="the image with the real model instead of the stand-in"),
    gpus: Optional[str] = typer.Option(None, "--gpus", help="_cuda: all or GPU indices/UUIDs; _rocm: all, indices or renderD nodes"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the equivalent docker run command and exit"),
    base: Optional[list[str]] = BaseOption,
    offline: bool = OfflineOption,
    index_url: Optional[str] = IndexUrlOption,
    ca_bundle: Optional[Path] = CaBundleOption,
    registry_mirror: Optional[str] = MirrorOption,
    spec_path: Optional[Path] = SpecOption,
) -> None:
    """Run the benchmark for a variation; results land in a new folder under --output_dir."""
    from launcher.run import options as opts
    from launcher.run import execute as run_mod

    session = Session.open(spec_path, base, offline=offline, index_url=index_url, ca_bundle=ca_bundle,
                           registry_mirror=registry_mirror)
    parsed = parse_variation(variation, session.spec)
    options = opts.RunOptions(
        scenarios=opts.resolve_scenarios(parsed, scenario),
        mode=mode.lower(),
        count=count,
        test_query_count=test_query_count,
        max_batchsize=opts.resolve_batch_size(parsed, max_batchsize),
        threads=threads,
        target_qps=target_qps,
        offline_target_qps=offline_target_qps,
        server_target_qps=server_target_qps,
        target_latency=target_latency,
        singlestream_target_latency=singlestream_target_latency,
        multistream_target_latency=multistream_target_latency,
        run_style=run_style,
        hw_name=hw_name,
        output_dir=output_dir,
        dataset_args=dataset_args,
        custom_model=custom_model,
        imagenet_path=imagenet_path,
        dataset_path=dataset_path,
        rerun=rerun,
        clean=clean,
        user=user,
        timeout=timeout,
        standin=not real,
        gpus=gpus,
    )
    if dry_run:
        out.print(run_mod.dry_run(session, parsed, options), markup=False)
        return
    run_dir, results = run_mod.run(session, parsed, options)
    table = Table("scenario", "mode", "performance", "result", "accuracy %", "folder")
    for r in results:
        table.add_row(r.scenario, r.mode, metric(r), r.validity or "-",
                      f"{r.accuracy:.3f}" if r.accuracy is not None else "-",
                      str(r.path.relative_to(run_dir)))
    out.print(table)
    out.print(f"results: {run_dir}", markup=False)


@base_app.command("create")
@handled
def base_create(
    tag: str = typer.Option(base_image.DEFAULT_TAG, "--tag", help="name of the image to create"),
    suite: str = typer.Option("bookworm", "--suite", help="Debian suite (bookworm has Python 3.11)"),
    mirror: str = typer.Option(base_image.DEFAULT_MIRROR, "--mirror", help="Debian mirror URL"),
    device: str = typer.Option("cpu", "--device", help="device whose base this image becomes with --set-default"),
    set_default: bool = typer.Option(False, "--set-default", help="record it as DEVICE's base in the user config"),
    force: bool = typer.Option(False, "--force", help="recreate even if the image exists"),
) -> None:
    """Create a Debian base image with python3 and venv by debootstrap + docker import."""
    session = Session.open()
    if device not in session.spec.devices:
        raise typer.BadParameter(f"unknown device {device!r}")
    if force or not session.engine.image_exists(tag):
        base_image.create(tag, suite, mirror, cli=session.engine.cli, log=session.say)
        session.say(f"created {tag}")
    else:
        session.say(f"{tag} already exists (use --force to recreate)")
    if set_default:
        config = load_config()
        config.bases[device] = tag
        session.say(f"{device} base is now {tag} in {save_config(config)}")


from launcher.cli.airgap import register as register_airgap  # noqa: E402  (fetch, bundle save|load)
register_airgap(app)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
