"""Results on the host: a fresh folder per run, and what the harness left in it."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from launcher.errors import UsageError

_SAMPLES = re.compile(r"^(?:Completed )?[Ss]amples per second\s*:\s*([\d.eE+-]+)", re.M)
_LATENCY = re.compile(r"^([\d.]+)th percentile latency \(ns\)\s*:\s*(\d+)", re.M)
_VALIDITY = re.compile(r"^Result is\s*:\s*(\w+)", re.M)
_SCENARIO = re.compile(r"^Scenario\s*:\s*(\w+)", re.M)
_ACCURACY = re.compile(r"accuracy=([\d.]+)%")


def run_name(label: str, now: float | None = None) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + "-" + label


def new_run_dir(output_dir: Path, label: str) -> Path:
    """Create a run folder that did not exist before: a second run never writes into the first."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--output_dir {output_dir}: cannot create ({exc.strerror})") from None
    if not os.access(output_dir, os.W_OK):
        raise UsageError(f"--output_dir {output_dir}: not writable")
    name = run_name(label)
    for attempt in range(1, 1000):
        candidate = output_dir / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise UsageError(f"--output_dir {output_dir}: too many runs named {name}")


@dataclass(frozen=True)
class TestResult:
    scenario: str
    mode: str
    path: Path
    samples_per_second: float | None = None
    latency_percentile: str | None = None
    latency_ms: float | None = None
    validity: str | None = None
    accuracy: float | None = None


def collect(run_dir: Path) -> list[TestResult]:
    """Every test folder (performance/run_1 or accuracy) under <run>/<system>/<model>/<Scenario>/."""
    found = []
    for summary in sorted(run_dir.glob("*/*/*/*/mlperf_log_summary.txt")) + sorted(
            run_dir.glob("*/*/*/performance/run_1/mlperf_log_summary.txt")):
        folder = summary.parent
        mode = "performance" if folder.name == "run_1" else folder.name
        if mode not in ("performance", "accuracy"):
            continue
        text = summary.read_text(errors="replace")
        scenario = _SCENARIO.search(text)
        samples = _SAMPLES.search(text)
        validity = _VALIDITY.search(text)
        latency = _LATENCY.search(text) if mode == "performance" else None
        acc_file = folder / "accuracy.txt"
        accuracy = _ACCURACY.search(acc_file.read_text()) if acc_file.exists() else None
        found.append(TestResult(
            scenario=scenario[1] if scenario else folder.parent.name,
            mode=mode,
            path=folder,
            samples_per_second=float(samples[1]) if samples and mode == "performance" else None,
            validity=validity[1] if validity and mode == "performance" else None,
            latency_percentile=f"p{float(latency[1]):g}" if latency else None,
            latency_ms=int(latency[2]) / 1e6 if latency else None,
            accuracy=float(accuracy[1]) if accuracy else None,
        ))
    return found


def metric(result: TestResult) -> str:
    """The scenario's headline figure: throughput, or the latency percentile LoadGen judges."""
    if result.samples_per_second is not None:
        return f"{result.samples_per_second:.1f} samples/s"
    if result.latency_ms is not None:
        return f"{result.latency_percentile} {result.latency_ms:.3f} ms"
    return "-"
