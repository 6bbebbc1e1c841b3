"""Error types: each carries its exit code; the CLI prints one line and exits with it.

Exit codes: 1 generic, 2 usage (and a run refused by the disk pre-flight), 3 engine, 4 build, 5 run,
6 fetch, 7 bundle, 8 a run of the same configuration is in progress, 9 no space left or a read-only
file system during a run, 10 the container was killed for running out of memory; a run stopped by
signal N exits 128+N (Ctrl-C 130, SIGTERM 143, SIGHUP 129); a failing harness's own status passes through.
"""

from __future__ import annotations


class MlperfDockerError(Exception):
    """Base error: a message meant for the user, printed as one line."""

    exit_code = 1


class UsageError(MlperfDockerError):
    """Bad input from the user: an unknown variation, contradictory flags, an unsupported combination."""

    exit_code = 2


class SpecError(MlperfDockerError):
    """images.yaml (or the user config) is malformed."""

    exit_code = 2


class EngineError(MlperfDockerError):
    """The container engine is missing, unreachable or refused a request."""

    exit_code = 3


class BuildError(MlperfDockerError):
    """An image build failed."""

    exit_code = 4


class RunError(MlperfDockerError):
    """The benchmark container failed or could not be started."""

    exit_code = 5


class FetchError(MlperfDockerError):
    """A download failed or a file did not match its digest."""

    exit_code = 6


class BundleError(MlperfDockerError):
    """A bundle is damaged, incomplete or not a bundle."""

    exit_code = 7


class RunInProgress(MlperfDockerError):
    """An identical run holds the configuration's lock."""

    exit_code = 8


class DiskError(MlperfDockerError):
    """No space left (ENOSPC/EDQUOT) or a read-only file system (EROFS) where the launcher or harness writes."""

    exit_code = 9


class OutOfMemory(RunError):
    """The container was OOM-killed (docker's State.OOMKilled)."""

    exit_code = 10


class NotEnoughSpace(UsageError):
    """The pre-flight check: the output folder cannot hold the run (refused before anything is written)."""


class Interrupted(MlperfDockerError):
    """Ctrl-C, SIGTERM or SIGHUP during a run: exit 128+signal."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
