"""The one in-process way unit tests call the CLI (typer's CliRunner); integration tests use a subprocess
(tests/integration/integration_support.mlperf_docker)."""

from __future__ import annotations

from types import SimpleNamespace

from typer.testing import CliRunner

from launcher.cli import app


def cli(*args, env=None):
    """Run `mlperf-docker ARGS` in-process; returns returncode, stdout and stderr like a finished subprocess.

    An exception the CLI did not turn into an exit status is re-raised: a user would have seen a traceback."""
    result = CliRunner().invoke(app, [str(a) for a in args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)
