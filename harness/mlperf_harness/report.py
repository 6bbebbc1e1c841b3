"""One-line results of a test, read from LoadGen's summary."""

from __future__ import annotations

from mlperf_harness.contract import Summary

# The metric each scenario is judged by, as named in mlperf_log_summary.txt.
_THROUGHPUT_KEYS = {
    "Offline": "Samples per second",
    "Server": "Completed samples per second",
}


def performance_metric(scenario: str, summary: Summary) -> str:
    if scenario in _THROUGHPUT_KEYS:
        if summary.samples_per_second is None:
            return f"'{_THROUGHPUT_KEYS[scenario]}' not found in the summary"
        text = f"{summary.samples_per_second:.1f} samples/s"
        if scenario == "Server" and summary.scheduled_samples_per_second is not None:
            text += f" (completed; {summary.scheduled_samples_per_second:.1f} scheduled)"
        return text
    if summary.latency_ns is None:
        return "latency not found in the summary"
    return f"{summary.latency_percentile}th percentile latency {summary.latency_ms:.3f} ms"


def token_metrics(summary: Summary) -> str:
    """Generative models: tokens/s, and TTFT/TPOT p99 against their Server constraints ('' if none)."""
    parts = []
    if summary.tokens_per_second is not None:
        parts.append(f"{summary.tokens_per_second:.1f} tokens/s")
    for name, value, limit in (("TTFT", summary.ttft_p99_ns, summary.ttft_limit_ns),
                               ("TPOT", summary.tpot_p99_ns, summary.tpot_limit_ns)):
        if value is not None:
            bound = f" (limit {limit / 1e6:g} ms)" if limit else ""
            parts.append(f"{name} p99 {value / 1e6:.1f} ms{bound}")
    return ", ".join(parts)


def performance_line(scenario: str, summary: Summary) -> str:
    tokens = token_metrics(summary)
    return (f"{scenario} performance: {performance_metric(scenario, summary)}"
            f"{', ' + tokens if tokens else ''}, result {summary.validity or 'UNKNOWN'}")
