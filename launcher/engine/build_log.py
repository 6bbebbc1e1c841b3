"""Reading build output (classic builder or BuildKit plain progress): the steps, and the one that failed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Callable

from launcher.errors import BuildError, EngineError

_CLASSIC_STEP = re.compile(r"^(?:Step|STEP) (\d+)/(\d+)(?: :|:) (.*)$")  # docker's classic builder, podman's
_BUILDKIT_STEP = re.compile(r"^#(\d+) \[([^\]]+)\] (.*)$")
_BUILDKIT_ERROR = re.compile(r"^#(\d+) ERROR")


class StepTracker:
    """Follows build output (classic or BuildKit plain progress) and remembers the failing step."""

    def __init__(self) -> None:
        self.steps: dict[str, str] = {}
        self.current: str | None = None
        self.failed: str | None = None
        self.last_error: str | None = None

    def feed(self, line: str) -> str | None:
        """Record a line; return a short step description when a new step starts."""
        if m := _CLASSIC_STEP.match(line):
            self.current = f"step {m[1]}/{m[2]}: {m[3]}"
            return self.current
        if m := _BUILDKIT_STEP.match(line):
            desc = f"[{m[2]}] {m[3]}"
            new = m[1] not in self.steps
            self.steps[m[1]] = desc
            self.current = desc
            return desc if new else None
        if m := _BUILDKIT_ERROR.match(line):
            self.failed = self.steps.get(m[1], self.current)
        lowered = line.lower()
        if ("error" in lowered or "returned a non-zero code" in lowered or "failed" in lowered) and line.strip():
            self.last_error = line.strip()
        return None

    def failing_step(self) -> str:
        return self.failed or self.current or "before the first step"


def short(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def stream_build(args: list[str], env: dict[str, str], tag: str, on_line: Callable[[str], None], log_path: Path) -> None:
    """Run a build command (docker or podman), report each new step, keep the whole log; BuildError
    naming the failing step when it fails."""
    tracker = StepTracker()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                text=True, errors="replace", bufsize=1)
    except OSError as exc:
        raise EngineError(f"cannot run {args[0]!r}: {exc.strerror}") from None
    with log_path.open("w") as log:
        log.write(" ".join(args) + "\n")
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.rstrip("\n")
                log.write(line + "\n")
                step = tracker.feed(line)
                if step:
                    on_line(step)
            status = proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
            raise
    if status != 0:
        detail = f": {short(tracker.last_error, 160)}" if tracker.last_error else ""
        raise BuildError(f"build of {tag} failed at {short(tracker.failing_step(), 120)}{detail} (full log: {log_path})")
