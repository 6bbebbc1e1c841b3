"""The `mlperf-docker` app: one typer app, each command group registered from its own module."""

from __future__ import annotations

import typer

import launcher.cli.airgap as airgap
import launcher.cli.base as base
import launcher.cli.images as images
import launcher.cli.lock as lock
import launcher.cli.run as run
import launcher.cli.slurm as slurm
import launcher.cli.serve as serve
import launcher.cli.submission as submission

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Build and run the MLPerf inference reference benchmarks in containers.")
for group in (images, run, serve, base, airgap, submission, lock, slurm):
    group.register(app)


def main() -> None:
    app()
