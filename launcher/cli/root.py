"""The `mlperf-docker` app: one typer app, each command group registered from its own module."""

from __future__ import annotations

import typer

from launcher.cli import airgap, base, images, lock, run, submission

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Build and run the MLPerf inference reference benchmarks in containers.")
for group in (images, run, base, airgap, submission, lock):
    group.register(app)


def main() -> None:
    app()
