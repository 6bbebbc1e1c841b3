"""What one harness invocation will do: a RunPlan, expanded into TestSpecs
(one LoadGen test = one scenario x one mode, each in its own process)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

from mlperf_harness import contract
from mlperf_harness.contract import (DEFAULT_TEST_QUERY_COUNT, DEVICES,  # noqa: F401
                                     LATENCY_SCENARIOS, QPS_SCENARIOS, RUN_STYLES, SCENARIOS,
                                     SettingsError)
from mlperf_harness.errors import HarnessError

MODES = ("accuracy", "performance")


def normalize_scenario(text: str) -> str:
    """'Offline', 'offline', 'single-stream', 'SINGLE_STREAM' -> canonical name."""
    try:
        return contract.normalize_scenario(text)
    except SettingsError as exc:
        raise HarnessError(str(exc)) from None


def parse_scenarios(values: List[str]) -> List[str]:
    """Repeated and/or comma-separated scenario flags -> ordered unique names."""
    try:
        return contract.parse_scenarios(values)
    except SettingsError as exc:
        raise HarnessError(str(exc)) from None


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
    compliance: List[str] = field(default_factory=list)  # audit tests: TEST01, TEST04
    batch_timeout_ms: Optional[float] = None  # Server batching; None: from the latency bound
    find_peak: bool = False  # Server performance: search the peak target_qps
    prefetch: str = contract.BY_NAME["prefetch"].default  # Offline/Server: sut.gathers_ahead
    precision: str = "fp32"
    # LoadGen over the network: None (local), "sut" (serve on ``port``), "lon" (to ``sut_servers``).
    network: Optional[str] = None
    sut_servers: List[str] = field(default_factory=list)
    port: int = contract.DEFAULT_SUT_PORT
    beam_size: Optional[int] = None  # generative models with beam search (gptj)

    @classmethod
    def from_settings(cls, settings: contract.BenchmarkSettings,
                      dataset_args: Dict[str, object]) -> "RunPlan":
        """A validated BenchmarkSettings (defaults filled in) -> the plan; paths made absolute."""
        get = settings.get
        scenario_qps = {s: v for s, v in (("Offline", settings.offline_target_qps),
                                          ("Server", settings.server_target_qps)) if v is not None}
        scenario_latency = {s: v for s, v in (("SingleStream", settings.singlestream_target_latency),
                                              ("MultiStream", settings.multistream_target_latency))
                            if v is not None}
        test_query_count = get("test_query_count")
        return cls(
            model=get("model"), backend=get("backend"), device=get("device"),
            model_path=os.path.abspath(settings.model_path),
            dataset_path=os.path.abspath(settings.dataset_path),
            output_dir=os.path.abspath(settings.output_dir), system=get("system"),
            scenarios=settings.scenarios, modes=settings.modes, count=settings.count,
            max_batchsize=get("max_batchsize"), threads=settings.threads,
            run_style=get("run_style"),
            test_query_count=(DEFAULT_TEST_QUERY_COUNT if test_query_count is None
                              else test_query_count),
            target_qps=settings.target_qps, target_latency_ms=settings.target_latency,
            scenario_target_qps=scenario_qps, scenario_target_latency_ms=scenario_latency,
            dataset_args=dataset_args,
            compliance=contract.parse_compliance(settings.compliance), precision=get("precision"),
            batch_timeout_ms=settings.batch_timeout_ms, find_peak=bool(settings.find_peak),
            prefetch=get("prefetch"),
            network=settings.network, port=get("port"),
            sut_servers=contract.parse_servers(settings.sut_servers) if settings.network == "lon" else [],
            beam_size=settings.beam_size)

    def targets(self, scenario: str) -> Tuple[Optional[float], Optional[float]]:
        """(target_qps, target_latency_ms) for ``scenario``: its own flag, else the generic one."""
        return (self.scenario_target_qps.get(scenario, self.target_qps),
                self.scenario_target_latency_ms.get(scenario, self.target_latency_ms))


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
    # An audit (compliance) test: LoadGen's audit.config (applied over user.conf) and the
    # child's working folder holding it; None for the submission runs.
    audit_config: Optional[str] = None
    work_dir: Optional[str] = None
    precision: str = "fp32"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "TestSpec":
        return cls(**json.loads(text))
