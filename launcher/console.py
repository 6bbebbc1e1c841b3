"""The one output channel: `out` (stdout) for results, `err` (stderr) for messages, progress and errors."""

from __future__ import annotations

from rich.console import Console

out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def say(message: str) -> None:
    """A message for the user (stderr, no markup)."""
    err.print(message, markup=False)


def echo(line: str) -> None:
    """A line of output (stdout, verbatim): results, or a container's own output."""
    out.print(line, markup=False)
