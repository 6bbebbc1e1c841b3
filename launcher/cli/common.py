"""What every command shares: the options every command takes, and the one-line error handling."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable, Optional

import typer

from launcher.console import err, out  # noqa: F401  (the commands' one output channel)
from launcher.errors import MlperfDockerError
from launcher.session import Session

VARIATION_HELP = "CM-style variations, e.g. _pytorch,_cuda,_bert-99 (defaults _cpu,_fp32,_onnxruntime,_resnet50)"
VARIATIONS_HELP = "CM-style variations, e.g. _cpu,_onnxruntime,_resnet50 (repeatable; default: the default variation)"

# Every command takes these three.
SpecOption = typer.Option(None, "--spec", help="images.yaml to use", envvar="MLPERF_DOCKER_SPEC")
CacheOption = typer.Option(None, "--cache", help="cache folder (default: MLPERF_DOCKER_CACHE or the user cache dir)")
BaseOption = typer.Option(None, "--base", help="DEVICE=IMAGE[,python=X.Y]: use IMAGE as DEVICE's base")
# Commands that build or fetch take these too.
OfflineOption = typer.Option(False, "--offline", help="build from the cache only (`mlperf-docker fetch` fills it), no network")
IndexUrlOption = typer.Option(None, "--index-url", help="package index for the host-side wheel fetch (never in the image)")
CaBundleOption = typer.Option(None, "--ca-bundle", help="PEM CA bundle for the host-side fetches (downloads, pip --cert)")
RuntimeOption = typer.Option(None, "--runtime", help="container runtime: docker, podman or apptainer "
                             "(default: MLPERF_DOCKER_RUNTIME, the user config's runtime:, else docker)")
MirrorOption = typer.Option(None, "--registry-mirror", help="pull remote base images through this registry mirror prefix")
TvmTargetOption = typer.Option(None, "--tvm-target", help="TVM images: the CPU target to compile for, e.g. "
                               "'llvm -mcpu=x86-64-v3' or 'llvm -mattr=+avx2,+fma' (default: MLPERF_DOCKER_TVM_TARGET, "
                               "the user config's tvm_target:, else images.yaml's compile_target); tagged apart")


def open_session(spec_path: Optional[Path], cache: Optional[Path], base: Optional[list[str]], **flags) -> Session:
    """The command's Session: the settings cascade applied to its flags."""
    return Session.open(spec_path, base, cache=cache, **flags)


def check_tvm_flag(flag: Optional[str], session: Session, framework: str) -> None:
    """--tvm-target names a TVM framework's compile target: refused for a framework that compiles nothing."""
    if flag is not None and not session.spec.frameworks[framework].compile_target:
        from launcher.errors import UsageError

        raise UsageError(f"--tvm-target applies to the TVM frameworks only, not {framework}")


def handled(command: Callable) -> Callable:
    """Turn the tool's errors into one line on stderr and their exit code; no tracebacks."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except MlperfDockerError as exc:
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt as exc:  # Ctrl-C (or SIGTERM/SIGHUP raised as one) outside a run's container
            from launcher.run.owned import exit_status, signal_name

            err.print(f"error: interrupted ({signal_name(exc)}); nothing already written was removed", markup=False)
            raise typer.Exit(exit_status(exc)) from None

    return wrapper
