"""What one harness invocation will do: a RunPlan, expanded into TestSpecs
(one LoadGen test = one scenario x one mode, each in its own process)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

from mlperf_harness.errors import HarnessError

SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream")
MODES = ("accuracy", "performance")
RUN_STYLES = ("test", "valid")
DEVICES = ("cpu", "cuda", "rocm")
DEFAULT_TEST_QUERY_COUNT = 500

_SCENARIO_SPELLINGS = {s.lower(): s for s in SCENARIOS}


def normalize_scenario(text: str) -> str:
    """'Offline', 'offline', 'single-stream', 'SINGLE_STREAM' -> canonical name."""
    key = text.strip().lower().replace("-", "").replace("_", "")
    try:
        return _SCENARIO_SPELLINGS[key]
    except KeyError:
        raise HarnessError(
            f"unknown scenario {text!r}; choose from {', '.join(SCENARIOS)}") from None


def parse_scenarios(values: List[str]) -> List[str]:
    """Repeated and/or comma-separated scenario flags -> ordered unique names."""
    result: List[str] = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            name = normalize_scenario(part)
            if name not in result:
                result.append(name)
    if not result:
        raise HarnessError("no scenario given")
    return result


def expand_modes(mode: str) -> List[str]:
    if mode == "both":
        return ["accuracy", "performance"]
    if mode not in MODES:
        raise HarnessError(f"unknown mode {mode!r}; choose accuracy, performance or both")
    return [mode]


@dataclass
class RunPlan:
    model: str
    backend: str
    device: str
    model_path: str
    dataset_path: str
    output_dir: str
    system: str
    scenarios: List[str]
    modes: List[str]
    count: Optional[int] = None
    max_batchsize: int = 32
    threads: Optional[int] = None
    run_style: str = "test"
    test_query_count: int = DEFAULT_TEST_QUERY_COUNT
    target_qps: Optional[float] = None
    target_latency_ms: Optional[float] = None
    # Scenario-specific targets (--offline-target-qps, --server-target-qps,
    # --singlestream-target-latency-ms, --multistream-target-latency-ms): they
    # override the generic ones for their scenario.
    scenario_target_qps: Dict[str, float] = field(default_factory=dict)
    scenario_target_latency_ms: Dict[str, float] = field(default_factory=dict)
    dataset_args: Dict[str, object] = field(default_factory=dict)

    def targets(self, scenario: str) -> Tuple[Optional[float], Optional[float]]:
        """(target_qps, target_latency_ms) for ``scenario``: its own flag, else the generic one."""
        return (self.scenario_target_qps.get(scenario, self.target_qps),
                self.scenario_target_latency_ms.get(scenario, self.target_latency_ms))


QPS_SCENARIOS = ("Offline", "Server")
LATENCY_SCENARIOS = ("SingleStream", "MultiStream", "Server")  # Server: the latency bound


@dataclass
class TestSpec:
    """Everything the child process needs for one LoadGen test."""

    __test__ = False  # not a pytest class

    model: str
    backend: str
    device: str
    model_path: str
    dataset_path: str
    scenario: str
    mode: str
    total_count: int
    perf_count: int
    max_batchsize: int
    threads: Optional[int]
    user_conf: str  # path of the generated user.conf
    test_dir: str  # LoadGen's log folder (created, empty)
    dataset_args: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "TestSpec":
        return cls(**json.loads(text))
