"""The `mlperf-docker` command line: typer apps, one module per command group; no domain work here."""

from launcher.cli.root import app, main

__all__ = ["app", "main"]
