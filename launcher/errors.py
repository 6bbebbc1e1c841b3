"""Error types: each carries its exit code; the CLI prints one line and exits with it."""

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
