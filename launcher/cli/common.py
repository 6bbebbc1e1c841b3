"""What every command shares: the consoles, common options and the one-line error handling."""

from __future__ import annotations

import functools
from typing import Callable

import typer
from rich.console import Console

from launcher.errors import MlperfDockerError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

VARIATION_HELP = "CM-style variations, e.g. _pytorch,_cuda,_bert-99 (defaults _cpu,_fp32,_onnxruntime,_resnet50)"
SpecOption = typer.Option(None, "--spec", help="images.yaml to use", envvar="MLPERF_DOCKER_SPEC")
BaseOption = typer.Option(None, "--base", help="DEVICE=IMAGE: use IMAGE as DEVICE's base for this build")
OfflineOption = typer.Option(False, "--offline", help="build from the cache only (`mlperf-docker fetch` fills it), no network")
IndexUrlOption = typer.Option(None, "--index-url", help="package index for the host-side wheel fetch (never in the image)")
CaBundleOption = typer.Option(None, "--ca-bundle", help="PEM CA bundle for the host-side wheel fetch (pip --cert)")
MirrorOption = typer.Option(None, "--registry-mirror", help="pull remote base images through this registry mirror prefix")


def handled(command: Callable) -> Callable:
    """Turn the tool's errors into one line on stderr and their exit code; no tracebacks."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except MlperfDockerError as exc:
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("error: interrupted; nothing already written was removed (downloads resume on the next fetch)",
                      markup=False)
            raise typer.Exit(130) from None

    return wrapper
