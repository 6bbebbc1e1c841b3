"""Results on the host: a fresh folder per run, and what the harness left in it."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from mlperf_harness.contract import ACCURACY_TXT, SUMMARY, find_test_dirs, read_accuracy, read_summary
from mlperf_harness.report import token_metrics

from launcher.errors import UsageError



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
    tokens: str | None = None  # generative models: tokens/s and TTFT/TPOT against their constraints


def collect(run_dir: Path) -> list[TestResult]:
    """Every test folder (performance/run_1 or accuracy) under <run>/<system>/<model>/<Scenario>/, read with
    the contract's one LoadGen reader."""
    found = []
    for test in find_test_dirs(run_dir):
        summary = read_summary(test.path / SUMMARY)
        performance = test.mode == "performance"
        found.append(TestResult(
            scenario=summary.scenario or test.scenario,
            mode=test.mode,
            path=test.path,
            samples_per_second=summary.samples_per_second if performance else None,
            validity=summary.validity if performance else None,
            latency_percentile=f"p{summary.latency_percentile}" if performance and summary.latency_ns is not None else None,
            latency_ms=summary.latency_ms if performance else None,
            accuracy=read_accuracy(test.path / ACCURACY_TXT),
            tokens=token_metrics(summary) or None if performance else None,
        ))
    return found


def metric(result: TestResult) -> str:
    """The scenario's headline figure: throughput, or the latency percentile LoadGen judges."""
    tokens = f", {result.tokens}" if result.tokens else ""
    if result.samples_per_second is not None:
        return f"{result.samples_per_second:.1f} samples/s{tokens}"
    if result.latency_ms is not None:
        return f"{result.latency_percentile} {result.latency_ms:.3f} ms{tokens}"
    return "-"
