"""One-line results of a test, read from LoadGen's summary."""

from __future__ import annotations

import re
from typing import Dict, Optional

# The metric each scenario is judged by, as named in mlperf_log_summary.txt.
_THROUGHPUT_KEYS = {
    "Offline": "Samples per second",
    "Server": "Completed samples per second",
}
_LATENCY_PATTERN = re.compile(r"^(\d+(?:\.\d+)?)th percentile latency \(ns\)$")


def _latency(summary: Dict[str, str]) -> Optional[str]:
    for key, value in summary.items():
        match = _LATENCY_PATTERN.match(key)
        if match:
            try:
                ms = float(value) / 1e6
            except ValueError:
                return None
            percentile = match.group(1).rstrip("0").rstrip(".")
            return f"{percentile}th percentile latency {ms:.3f} ms"
    return None


def _number(summary: Dict[str, str], key: str) -> Optional[float]:
    try:
        return float(summary[key])
    except (KeyError, ValueError):
        return None


def performance_metric(scenario: str, summary: Dict[str, str]) -> str:
    if scenario in _THROUGHPUT_KEYS:
        value = _number(summary, _THROUGHPUT_KEYS[scenario])
        if value is None:
            return f"'{_THROUGHPUT_KEYS[scenario]}' not found in the summary"
        text = f"{value:.1f} samples/s"
        scheduled = _number(summary, "Scheduled samples per second")
        if scenario == "Server" and scheduled is not None:
            text += f" (completed; {scheduled:.1f} scheduled)"
        return text
    return _latency(summary) or "latency not found in the summary"


def performance_line(scenario: str, summary: Dict[str, str]) -> str:
    validity = summary.get("Result is", "UNKNOWN")
    return f"{scenario} performance: {performance_metric(scenario, summary)}, result {validity}"
