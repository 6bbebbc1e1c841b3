"""Exit codes of the run faults (issue 10); they join launcher/errors.py when the layout settles.

1 generic, 2 usage, 3 engine, 4 build, 5 run, 6 fetch, 7 bundle (errors.py); then:
8 a run of the same configuration is in progress, 9 out of disk space / read-only folder,
10 the container was killed for running out of memory; 128+N: the launcher got signal N.
"""

from __future__ import annotations

from .errors import MlperfDockerError, RunError


class RunInProgress(MlperfDockerError):
    """An identical run holds the configuration's lock."""

    exit_code = 8


class DiskError(MlperfDockerError):
    """No space left (ENOSPC) or a read-only file system (EROFS) where the launcher or harness writes."""

    exit_code = 9


class OutOfMemory(RunError):
    """The container was OOM-killed (docker's State.OOMKilled)."""

    exit_code = 10


class NotEnoughSpace(MlperfDockerError):
    """The pre-flight check: the output folder cannot hold the run (refused before anything is written)."""

    exit_code = 2
