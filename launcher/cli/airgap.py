"""Commands for air-gapped labs: `fetch` (artifacts and wheels ahead of time) and `bundle save|load`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from launcher.cli.common import (BaseOption, CaBundleOption, CacheOption, IndexUrlOption, RuntimeOption, SpecOption,
                                 VARIATIONS_HELP, handled, open_session, out)
from launcher.errors import Interrupted, UsageError


def _variations(session, values: list[str] | None, everything: bool = False):
    from launcher.airgap.fetch import supported_variations
    from launcher.spec.variation import parse_variation

    if everything and values:
        raise UsageError("--all and --variation exclude each other; give one")
    if everything:
        return supported_variations(session.spec)
    return [parse_variation(v, session.spec) for v in values] if values else [parse_variation(None, session.spec)]


def fetch(
    variation: Optional[list[str]] = typer.Option(None, "--variation", "-v", help=VARIATIONS_HELP),
    everything: bool = typer.Option(False, "--all", help="every supported combination in images.yaml"),
    wheels_only: bool = typer.Option(False, "--wheels-only", help="only the wheels (enough for stand-in images)"),
    ca_bundle: Optional[Path] = CaBundleOption,
    index_url: Optional[str] = IndexUrlOption,
    jobs: int = typer.Option(3, "--jobs", "-j", help="downloads at a time"),
    retries: int = typer.Option(3, "--retries", help="resumed retries per download after a dropped connection"),
    dry_run: bool = typer.Option(False, "--dry-run", help="list what is needed and whether it is cached; download nothing"),
    checker: bool = typer.Option(False, "--checker", help="only the MLPerf submission checker's source (images.yaml "
                                 "tools.submission_checker), for `submission check`"),
    hf_token_file: Optional[Path] = typer.Option(None, "--hf-token-file", help="a file holding your Hugging Face "
                                                 "token, for gated checkpoints (else HF_TOKEN); sent to the Hub only"),
    spec_path: Optional[Path] = SpecOption, cache: Optional[Path] = CacheOption, base: Optional[list[str]] = BaseOption,
) -> None:
    """Download and verify every model artifact, checkpoint and wheel the images need, for building offline later."""
    from launcher.airgap import fetch as fetch_mod
    from launcher.airgap.hub import read_token

    session = open_session(spec_path, cache, base, index_url=index_url, ca_bundle=ca_bundle)
    if checker:
        _fetch_checker(session, variation, everything, wheels_only, dry_run, retries)
        return
    variations = _variations(session, variation, everything)
    if dry_run:
        plan = fetch_mod.make_plan(session, variations, models=not wheels_only)
        for line in fetch_mod.describe(session, plan):
            out.print(line, markup=False)
        return
    try:
        report = fetch_mod.fetch(session, variations, jobs=jobs, retries=retries, models=not wheels_only,
                                 hf_token=read_token(hf_token_file), skip_gated=everything)
    except KeyboardInterrupt as exc:
        from launcher.run.owned import exit_status, signal_name

        raise Interrupted(f"interrupted ({signal_name(exc)}); nothing already written was removed (downloads resume "
                          "on the next fetch)", exit_status(exc)) from None
    out.print(report.summary(), markup=False)


def bundle_save(
    variation: Optional[list[str]] = typer.Option(None, "--variation", "-v", help=VARIATIONS_HELP),
    output: Path = typer.Option(..., "--output", "-o", help="bundle file to write"),
    real: bool = typer.Option(False, "--real", help="the images with the real model instead of the stand-in"),
    force: bool = typer.Option(False, "--force", help="replace an existing output file"),
    runtime: Optional[str] = RuntimeOption,
    spec_path: Optional[Path] = SpecOption, cache: Optional[Path] = CacheOption, base: Optional[list[str]] = BaseOption,
) -> None:
    """Write the variations' images (docker save) and a verified manifest into one tar file."""
    from launcher.airgap import bundle as bundle_mod

    session = open_session(spec_path, cache, base, runtime=runtime)
    saved = bundle_mod.save(session, _variations(session, variation), output, standin=not real, force=force)
    out.print(f"wrote {saved.path} ({saved.size / 1e6:.1f} MB): {', '.join(saved.tags)}", markup=False)


def bundle_load(
    path: Path = typer.Argument(..., help="bundle file written by `mlperf-docker bundle save`"),
    repository: Optional[str] = typer.Option(None, "--repository", help="tag the images under this repository instead"),
    verify_only: bool = typer.Option(False, "--verify-only", help="check the bundle and list its images; load nothing"),
    runtime: Optional[str] = RuntimeOption,
    spec_path: Optional[Path] = SpecOption, cache: Optional[Path] = CacheOption, base: Optional[list[str]] = BaseOption,
) -> None:
    """Verify a bundle's checksums, then load its images and tag them; a damaged bundle loads nothing."""
    from launcher.airgap import bundle as bundle_mod

    session = open_session(spec_path, cache, base, runtime=runtime)
    loaded = bundle_mod.load(session, path, repository=repository, verify_only=verify_only)
    verb = "verified" if verify_only else "loaded"
    for item in loaded:
        out.print(f"{verb} {item.tag} ({item.id[:19]}, {item.variation})", markup=False)


def _fetch_checker(session, variation, everything, wheels_only, dry_run, retries) -> None:
    from launcher.airgap.download import Downloader
    from launcher.airgap.lockfile import LockFile
    from launcher.submission import checker

    if variation or everything or wheels_only:
        raise UsageError("--checker fetches only the submission checker; give --variation/--all/--wheels-only "
                         "in another fetch")
    source = checker.load_source(session.spec.path)
    if dry_run:
        folder = checker.checker_dir(session.cache, source)
        cached = (folder / source.module / "main.py").is_file()
        out.print(f"submission checker {source.commit[:12]}: {source.url} "
                  f"({'cached' if cached else 'to download'})", markup=False)
        return
    checker.fetch(source, session.cache, LockFile.beside(session.spec),
                  Downloader(ca_bundle=session.settings.ca_bundle, retries=retries), say=session.say)


def register(app: typer.Typer) -> None:
    """Add `fetch` and the `bundle` sub-commands to the main app."""
    app.command("fetch")(handled(fetch))
    bundle_app = typer.Typer(no_args_is_help=True, help="Move images between machines as one verified file.")
    bundle_app.command("save")(handled(bundle_save))
    bundle_app.command("load")(handled(bundle_load))
    from launcher.cli.sif import bundle_sif

    bundle_app.command("sif")(handled(bundle_sif))
    app.add_typer(bundle_app, name="bundle")
