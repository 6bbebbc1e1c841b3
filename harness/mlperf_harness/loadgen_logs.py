"""The MLPerf results tree and the one reader of LoadGen's logs (standard library
only; part of the launcher <-> harness contract, re-exported by ``contract``).

<root>/<system>/<model>/<Scenario>/
    user.conf, measurements.json
    performance/run_1/{mlperf_log_summary.txt, mlperf_log_detail.txt, ...}
    accuracy/{mlperf_log_summary.txt, mlperf_log_detail.txt,
              mlperf_log_accuracy.json, accuracy.txt}
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Union

SUMMARY = "mlperf_log_summary.txt"
DETAIL = "mlperf_log_detail.txt"
ACCURACY_LOG = "mlperf_log_accuracy.json"
TRACE = "mlperf_log_trace.json"
ACCURACY_TXT = "accuracy.txt"
USER_CONF = "user.conf"
MEASUREMENTS = "measurements.json"
TEST_MODES = ("accuracy", "performance")

PathLike = Union[str, Path]


def scenario_dir(root: PathLike, system: str, model: str, scenario: str) -> Path:
    return Path(root) / system / model / scenario


def test_dir(root: PathLike, system: str, model: str, scenario: str, mode: str) -> Path:
    base = scenario_dir(root, system, model, scenario)
    return base / "performance" / "run_1" if mode == "performance" else base / "accuracy"


test_dir.__test__ = False  # not a pytest test


class TestFolder(NamedTuple):
    __test__ = False

    system: str
    model: str
    scenario: str
    mode: str
    path: Path


def find_test_dirs(root: PathLike) -> List[TestFolder]:
    """Every test folder holding a summary under a run root: accuracy ones first, then
    performance ones, each sorted by path."""
    found = []
    for summary in Path(root).glob(f"*/*/*/*/{SUMMARY}"):
        if summary.parent.name == "accuracy":
            found.append(summary.parent)
    for summary in Path(root).glob(f"*/*/*/performance/run_1/{SUMMARY}"):
        found.append(summary.parent)
    found.sort(key=lambda p: (p.name != "accuracy", p))
    result = []
    for folder in found:
        scenario = folder.parent if folder.name == "accuracy" else folder.parent.parent
        mode = "accuracy" if folder.name == "accuracy" else "performance"
        result.append(TestFolder(scenario.parent.parent.name, scenario.parent.name,
                                 scenario.name, mode, folder))
    return result


_LATENCY_KEY = re.compile(r"^(\d+(?:\.\d+)?)th percentile latency \(ns\)$")
_MODES = {"PerformanceOnly": "performance", "AccuracyOnly": "accuracy"}


def _yes(value: Optional[str]) -> Optional[bool]:
    return None if value is None else value.strip().lower() == "yes"


def _number(value: Optional[str]) -> Optional[float]:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Summary:
    """mlperf_log_summary.txt, read once."""

    scenario: Optional[str] = None
    mode: Optional[str] = None  # accuracy | performance (from LoadGen's "Mode" line)
    validity: Optional[str] = None  # VALID | INVALID
    samples_per_second: Optional[float] = None  # Server: completed samples per second
    scheduled_samples_per_second: Optional[float] = None  # Server
    latency_percentile: Optional[str] = None  # "90", "99", "99.9" (the judged percentile)
    latency_ns: Optional[int] = None
    min_duration_met: Optional[bool] = None
    min_queries_met: Optional[bool] = None
    early_stopping_met: Optional[bool] = None
    raw: Dict[str, str] = field(default_factory=dict)  # key : value lines, first wins
    # Generative models (LoadGen token metrics): tokens/s, the 99th percentile time to first token
    # and time per output token, and the Server constraints on them (ns).
    tokens_per_second: Optional[float] = None
    ttft_p99_ns: Optional[int] = None
    tpot_p99_ns: Optional[int] = None
    ttft_limit_ns: Optional[int] = None
    tpot_limit_ns: Optional[int] = None

    @property
    def latency_ms(self) -> Optional[float]:
        return None if self.latency_ns is None else self.latency_ns / 1e6


# Token throughput as LoadGen names it: Server, Offline (use_token_latencies), inferred (gptj).
_TOKENS_KEYS = ("Completed tokens per second", "Completed tokens per second (inferred)", "Tokens per second",
                "Tokens per second (inferred)")


def parse_summary(text: str) -> Summary:
    raw: Dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and key.strip() not in raw:
            raw[key.strip()] = value.strip()
    percentile = latency = None
    for key, value in raw.items():
        match = _LATENCY_KEY.match(key)
        number = _number(value)
        if match and number is not None:
            percentile, latency = f"{float(match.group(1)):g}", int(number)
            break
    samples = raw.get("Completed samples per second", raw.get("Samples per second"))
    tokens = next((raw[k] for k in _TOKENS_KEYS if k in raw), None)

    def ns(key):
        value = _number(raw.get(key))
        return None if value is None else int(value)

    return Summary(
        tokens_per_second=_number(tokens),
        ttft_p99_ns=ns("99.00 percentile first token latency (ns)"),
        tpot_p99_ns=ns("99.00 percentile time to output token (ns)"),
        ttft_limit_ns=ns("ttft_latency (ns)"), tpot_limit_ns=ns("tpot_latency (ns)"),
        scenario=raw.get("Scenario") or None, mode=_MODES.get(raw.get("Mode", "")),
        validity=raw.get("Result is") or None, samples_per_second=_number(samples),
        scheduled_samples_per_second=_number(raw.get("Scheduled samples per second")),
        latency_percentile=percentile, latency_ns=latency,
        min_duration_met=_yes(raw.get("Min duration satisfied")),
        min_queries_met=_yes(raw.get("Min queries satisfied")),
        early_stopping_met=_yes(raw.get("Early stopping satisfied")), raw=raw)


def read_summary(path: PathLike) -> Summary:
    return parse_summary(Path(path).read_text(encoding="utf-8", errors="replace"))


def read_detail(path: PathLike) -> List[dict]:
    """The ``:::MLLOG {json}`` records of mlperf_log_detail.txt, in order."""
    records = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(":::MLLOG "):
            records.append(json.loads(line[len(":::MLLOG "):]))
    return records


def detail_values(path: PathLike) -> dict:
    """{key: value} of the detail log's records (the first of each key wins)."""
    values: dict = {}
    for record in read_detail(path):
        values.setdefault(record.get("key"), record.get("value"))
    return values


_ACCURACY = re.compile(r"accuracy=([\d.]+)%")
_MAP = re.compile(r"^mAP=([\d.]+)%", re.M)
_DICE = re.compile(r"^Accuracy: mean = ([\d.]+)", re.M)
_ROUGE1 = re.compile(r"'rouge1': '?([\d.]+)")


def read_accuracy(path: PathLike) -> Optional[float]:
    """accuracy.txt's headline value in percent: ImageNet's ``accuracy=N%``, OpenImages' ``mAP=N%``,
    KiTS19's mean DICE (``Accuracy: mean = X``, X * 100), SQuAD's ``f1``, the LLMs' ROUGE-1
    (``'rouge1': N``); None if absent."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = _ACCURACY.search(text) or _MAP.search(text) or _ROUGE1.search(text)
    if match:
        return float(match.group(1))
    match = _DICE.search(text)
    if match:
        return 100.0 * float(match.group(1))
    try:
        data = json.loads(text)
    except ValueError:
        return None
    value = data.get("f1") if isinstance(data, dict) else None
    return float(value) if isinstance(value, (int, float)) else None
