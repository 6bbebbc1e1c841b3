"""`submission generate|check` and `report`: package complete runs as an MLPerf submission, run the
official checker on it, and show runs as one HTML page (the work is in launcher/submission, launcher/report)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from launcher.cli.common import CacheOption, SpecOption, handled, open_session, out
from launcher.errors import UsageError
from launcher.submission.system import EXAMPLE_YAML

submission_app = typer.Typer(no_args_is_help=True,
                             help="Package complete runs as an MLPerf submission, and check it.")


@submission_app.command("generate", help="Build <output>/<division>/<submitter>/{results,systems,"
                        "src,documentation} from complete run folders; the run folders are only read. "
                        "The system YAML gives what no machine can tell:\n\n" + EXAMPLE_YAML.replace("\n", "\n\n"))
@handled
def generate_cmd(
    runs: List[Path] = typer.Argument(..., help="complete run folders (mlperf-docker run output)"),
    output: Path = typer.Option(..., "--output", "-o", help="new folder for the submission tree"),
    system_yaml: Path = typer.Option(..., "--system-yaml", help="submitter, status, system_type, "
                                     "cooling, notes; any system field given wins"),
    division: str = typer.Option("closed", "--division", help="closed, open or network (LoadGen over the network runs; the YAML's wins)"),
) -> None:
    from launcher.submission.generate import generate

    root = generate(runs, output, system_yaml, division, say=lambda m: out.print(m, markup=False))
    out.print(f"submission tree: {root}", markup=False)


def _checker_image(session, source) -> str:
    from launcher.submission import checker

    folder = checker.checker_dir(session.cache, source)
    if not (folder / source.module / "main.py").is_file():
        raise UsageError(f"the submission checker {source.commit[:12]} is not in the cache {session.cache}: "
                         "run `mlperf-docker fetch --checker` (air-gapped: bring the cache)")
    return checker.ensure_image(folder, source, session.base("cpu").image, session.repository,
                                docker=session.settings.config.docker_cli or "docker", say=session.say)


@submission_app.command("check")
@handled
def check_cmd(
    tree: Path = typer.Argument(..., help="the --output folder of `submission generate`"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="only the verdicts, not the checker's own log"),
    spec_path: Optional[Path] = SpecOption, cache: Optional[Path] = CacheOption,
) -> None:
    """Run the official MLPerf submission checker (pinned in images.yaml) in a container with no network;
    print valid/INVALID per result with the checker's messages; exit 1 on any error."""
    from launcher.submission import checker

    checker.require_tree(tree)
    session = open_session(spec_path, cache, None)
    source = checker.load_source(session.spec.path)
    tag = _checker_image(session, source)
    report, _ = checker.check(tree, tag, source.version, docker=session.settings.config.docker_cli or "docker",
                              echo=None if quiet else (lambda line: out.print(line, markup=False)))
    for line in report.lines():
        out.print(line, markup=False)
    if not report.ok:
        raise typer.Exit(1)


@handled
def report_cmd(
    runs: List[Path] = typer.Argument(..., help="complete run folders; two give B/A ratios"),
    output: Path = typer.Option(Path("mlperf-report"), "--output", "-o", help="folder for report.html and its PNGs"),
    as_json: bool = typer.Option(False, "--json", help="print the report's data as JSON instead"),
    spec_path: Optional[Path] = SpecOption,
) -> None:
    """One self-contained HTML page plus PNGs: throughput or latency per scenario, latency percentiles and
    histogram, accuracy against the target, system and image identity, B/A ratios for two runs."""
    from launcher.report import data as report_data, render

    data = report_data.collect(runs, spec_path)
    if as_json:
        out.print(json.dumps(data, indent=1), markup=False)
        return
    page = render.write(data, output)
    out.print(f"report: {page}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(submission_app, name="submission")
    app.command("report")(report_cmd)
