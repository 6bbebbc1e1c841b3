"""MLPerf's audit (compliance) tests: the audit.config each test runs with, and its
verification against the scenario's own accuracy and performance runs.

The rules are those of mlcommons/inference compliance/TEST01 and TEST04 (this is our
own implementation of them):

- TEST01, accuracy in performance mode: a performance run that also logs a random
  sample of its responses (accuracy_log_sampling_target). Every logged response must
  equal the accuracy run's response for the same qsl_idx (compared element-wise in the
  model's response dtype, first element, as the official script does); its performance
  must be within 10% of the performance run (20% for very short latencies). When the
  responses differ (non-deterministic models) both subsets are scored with the model's
  accuracy script: baseline_accuracy.txt and compliance_accuracy.txt, which the checker
  compares.
- TEST04, no caching: a performance run issuing one sample over and over must not be
  faster than the unique-sample performance run by more than 10% (20% short latencies).
- TEST06, LLM output consistency (first token, EOS, output length): llm/test06.py.

Results, in the layout the submission checker reads (<Scenario>/TESTxx/):
    audit.config, verify_accuracy.txt (TEST01, TEST06), verify_performance.txt (TEST01, TEST04),
    performance/run_1/{mlperf_log_summary.txt, mlperf_log_detail.txt},
    accuracy/{mlperf_log_accuracy.json, accuracy.txt, baseline_accuracy.txt,
              compliance_accuracy.txt} (TEST01), accuracy/mlperf_log_accuracy.json (TEST06)
Standard library + numpy; importable on Python 3.10.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from mlperf_harness.contract import ACCURACY_LOG, ACCURACY_TXT, DETAIL, detail_values
from mlperf_harness.errors import HarnessError, UsageError

AUDIT_CONFIG = "audit.config"
VERIFY_ACCURACY = "verify_accuracy.txt"
VERIFY_PERFORMANCE = "verify_performance.txt"
BASELINE_ACCURACY = "baseline_accuracy.txt"
COMPLIANCE_ACCURACY = "compliance_accuracy.txt"
PASS, FAIL = "TEST PASS", "TEST FAIL"
TESTS = ("TEST01", "TEST04", "TEST06")

# Which audit tests MLPerf (v6.1 checker) requires per LoadGen model key.
TESTS_BY_MODEL: Dict[str, Tuple[str, ...]] = {
    "resnet50": ("TEST01", "TEST04"),
    "retinanet": ("TEST01",),
    "bert": ("TEST01",),
    "3d-unet": ("TEST01",),
    "stable-diffusion-xl": ("TEST01", "TEST04"),
    "llama2-70b": ("TEST06",),
    "llama2-70b-interactive": ("TEST06",),
}
LLM_KEYS = ("llama2-70b", "llama2-70b-interactive", "gptj", "llama3.1-8b", "llama3.1-405b",
            "mixtral-8x7b", "deepseek-r1")
# gptj: only the v5.0 checker listed it for TEST06; LoadGen infers its token latencies, so its
# accuracy log has no token_count or streamed first token for TEST06's checks to read.
_NO_TEST06 = {"gptj": "LoadGen infers gptj's token latencies (infer_token_latencies), so its "
                      "accuracy log carries no token counts or streamed first tokens for TEST06 to "
                      "check; the v6.x checkers require TEST06 for llama2-70b only (v5.0 listed gptj)"}

_TEST01_LINES = ("*.*.mode = 2", "*.*.accuracy_log_rng_seed = 720381539243781796",
                 "*.*.accuracy_log_sampling_target = 4096")
_TEST04_KEYS = ("mode = 2", "performance_issue_unique = 0", "performance_issue_same = 1",
                "performance_issue_same_index = 3")
_SCENARIOS = ("MultiStream", "Offline", "SingleStream", "Server")

# The figure each scenario is judged by in the detail log, and whether higher is better.
_RESULT_KEYS = {"Offline": ("result_samples_per_second", True),
                "Server": ("result_completed_samples_per_sec", True),
                "SingleStream": ("early_stopping_latency_ss", False),
                "MultiStream": ("early_stopping_latency_ms", False)}


def audit_config_text(test: str) -> str:
    """The audit.config LoadGen applies over user.conf for ``test`` (mode 2 = performance)."""
    head = [f"# MLPerf compliance {test}, written by mlperf_harness; LoadGen applies it over "
            "user.conf", "# (mode 2 = performance only)"]
    if test == "TEST01":
        lines = list(_TEST01_LINES)
    elif test == "TEST04":
        lines = [f"*.{scenario}.{key}" for scenario in _SCENARIOS for key in _TEST04_KEYS]
    elif test == "TEST06":
        from mlperf_harness.llm.test06 import AUDIT_LINES

        lines = list(AUDIT_LINES)
    else:
        raise HarnessError(f"no audit.config for {test}")
    return "\n".join(head + lines) + "\n"


def check_tests(tests: Sequence[str], model_name: str, loadgen_key: Optional[str]) -> None:
    """Refuse an audit test MLPerf does not define for the model (UsageError, one line)."""
    applicable = TESTS_BY_MODEL.get(loadgen_key or "", ())
    for test in tests:
        if test == "TEST06" and loadgen_key not in LLM_KEYS:
            raise UsageError(f"--compliance TEST06 checks LLM outputs (first token, EOS, output "
                             f"length); {model_name} is not an LLM")
        if test == "TEST06" and loadgen_key in _NO_TEST06:
            raise UsageError(f"--compliance TEST06 does not apply to {model_name}: "
                             f"{_NO_TEST06[loadgen_key]}")
        if test not in applicable:
            which = ", ".join(applicable) or "none"
            raise UsageError(f"--compliance {test}: MLPerf defines no {test} for {model_name} "
                             f"(its audit tests: {which})")


# ---- TEST01: accuracy samples logged in performance mode ------------------------------------

@dataclass
class AccuracyVerdict:
    reference_entries: int = 0
    reference_duplicates: int = 0
    reference_mismatches: int = 0
    test_entries: int = 0
    matched: int = 0
    mismatched: int = 0
    missing: int = 0

    @property
    def passed(self) -> bool:
        return self.mismatched == 0 and self.matched > 0

    def text(self) -> str:
        rows = [("accuracy run entries", self.reference_entries),
                ("accuracy run duplicate qsl_idx", self.reference_duplicates),
                ("accuracy run duplicates with other data", self.reference_mismatches),
                ("compliance run entries", self.test_entries),
                ("compliance entries matched by qsl_idx", self.matched),
                ("compliance entries with other data", self.mismatched),
                ("compliance entries not in the accuracy run", self.missing)]
        body = "".join(f"{name} = {value}\n" for name, value in rows)
        return f"TEST01: verifying accuracy in performance mode\n{body}{PASS if self.passed else FAIL}\n"


def load_entries(path: Path) -> List[dict]:
    """An mlperf_log_accuracy.json's entries ({qsl_idx, data, ...}), or one HarnessError line."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"{path} not found") from None
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{path}: not a readable accuracy log ({exc})") from None
    if not isinstance(data, list) or not all(isinstance(e, dict) and "qsl_idx" in e and "data" in e
                                             for e in data):
        raise HarnessError(f"{path}: expected a JSON list of {{qsl_idx, data}} entries")
    return data


def _first(data: str, dtype: str):
    import numpy as np

    raw = bytes.fromhex(data)
    width = np.dtype(dtype).itemsize
    return None if len(raw) < width else np.frombuffer(raw[:width], dtype=dtype)[0]


def verify_accuracy(reference_log: Path, test_log: Path, dtype: str = "byte") -> AccuracyVerdict:
    """Compare the compliance run's logged responses with the accuracy run's, by qsl_idx."""
    verdict = AccuracyVerdict()
    reference: Dict[int, str] = {}
    entries = load_entries(reference_log)
    verdict.reference_entries = len(entries)
    for entry in entries:
        idx, data = entry["qsl_idx"], entry["data"]
        if idx in reference:
            verdict.reference_duplicates += 1
            verdict.reference_mismatches += reference[idx] != data
        else:
            reference[idx] = data
    tests = load_entries(test_log)
    verdict.test_entries = len(tests)
    for entry in tests:
        idx, data = entry["qsl_idx"], entry["data"]
        if idx not in reference:
            verdict.missing += 1
        else:
            verdict.matched += 1
            ours, theirs = _first(data, dtype), _first(reference[idx], dtype)
            if (ours is None) != (theirs is None) or (ours is not None and ours != theirs):
                verdict.mismatched += 1
        reference[idx] = data  # a later repeat is compared with this one, as officially
    return verdict


def baseline_entries(reference_log: Path, test_log: Path) -> List[dict]:
    """The accuracy run's entries for the qsl_idx the compliance run logged (the official
    create_accuracy_baseline step), for an apples-to-apples accuracy comparison."""
    wanted = {e["qsl_idx"] for e in load_entries(test_log)}
    return [e for e in load_entries(reference_log) if e["qsl_idx"] in wanted]


# ---- performance: TEST01 (within the margin) and TEST04 (not faster) ------------------------

@dataclass
class PerformanceVerdict:
    test: str
    scenario: Optional[str]
    reference: Optional[float]
    measured: Optional[float]
    threshold: float
    problem: Optional[str] = None  # why it failed before comparing

    @property
    def passed(self) -> bool:
        if self.problem or self.reference is None or self.measured is None:
            return False
        if self.test == "TEST04":  # not faster than the unique-sample run beyond the margin
            return self.measured < self.reference * (1 + self.threshold)
        return self.reference * (1 - self.threshold) <= self.measured \
            <= self.reference * (1 + self.threshold)

    def text(self) -> str:
        lines = [f"{self.test}: verifying performance ({self.scenario or 'unknown scenario'})"]
        if self.problem:
            return "\n".join(lines + [f"{FAIL}: {self.problem}"]) + "\n"
        lines += [f"reference score = {self.reference}", f"test score = {self.measured}",
                  f"allowed margin = {self.threshold:.0%}"]
        lines.append(PASS if self.passed else f"{FAIL}: test score outside the allowed margin")
        return "\n".join(lines) + "\n"


def _score(detail: Path) -> Tuple[Optional[str], Optional[float], Optional[str], object]:
    """(scenario, score where higher is better, problem, server target latency) of a detail log."""
    try:
        values = detail_values(detail)
    except (OSError, ValueError) as exc:
        return None, None, f"cannot read {detail} ({exc})", None
    scenario = values.get("effective_scenario")
    if scenario not in _RESULT_KEYS:
        return scenario, None, f"{detail}: unknown scenario {scenario!r}", None
    if values.get("result_validity") != "VALID":
        return scenario, None, f"{detail}: the result is {values.get('result_validity')}", None
    key, higher_is_better = _RESULT_KEYS[scenario]
    value = values.get(key)
    if not isinstance(value, (int, float)) or value <= 0:
        return scenario, None, f"{detail}: no {key}", None
    score = float(value) if higher_is_better else 1e9 / float(value)
    return scenario, score, None, values.get("effective_target_latency_ns")


def verify_performance(test: str, reference_detail: Path, test_detail: Path) -> PerformanceVerdict:
    """The compliance run's performance against the submission run's (both detail logs)."""
    ref_scenario, ref_score, problem, ref_latency = _score(reference_detail)
    scenario, score, test_problem, latency = _score(test_detail)
    verdict = PerformanceVerdict(test, ref_scenario, ref_score, score, 0.10,
                                 problem or test_problem)
    if verdict.problem:
        return verdict
    if scenario != ref_scenario:
        verdict.problem = f"the scenarios differ ({ref_scenario} and {scenario})"
    elif scenario == "Server" and latency != ref_latency:
        verdict.problem = "the Server target latencies differ"
    # Short latencies vary much from run to run: a 20% margin. The official scripts differ:
    # TEST01 compares the latency (ns) with the bound, TEST04 its inverse (1e9/ns).
    bound = {"SingleStream": 200000, "MultiStream": 1600000}.get(scenario)
    figure = ref_score if test == "TEST04" else 1e9 / ref_score
    if bound is not None and figure <= bound:
        verdict.threshold = 0.20
    return verdict


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def verify_test(test: str, scenario_dir: Path, dtype: str, score=None, model_path=None) -> List[str]:
    """Verify one finished audit test in ``scenario_dir``/``test``; write its verify files.

    ``score(log_path) -> str``: the model's accuracy line for an accuracy log (TEST01's
    baseline/compliance accuracy); ``model_path``: the checkpoint (TEST06 reads its
    end-of-sequence id). Returns one summary line per check."""
    folder = scenario_dir / test
    run = folder / "performance" / "run_1"
    lines = []
    if test == "TEST06":
        return [_verify_test06(folder, scenario_dir.name, dtype, model_path)]
    if test == "TEST01":
        accuracy = folder / "accuracy"
        accuracy.mkdir(parents=True, exist_ok=True)
        logged = run / ACCURACY_LOG
        if logged.exists():
            os.replace(logged, accuracy / ACCURACY_LOG)
        reference = scenario_dir / "accuracy" / ACCURACY_LOG
        verdict = verify_accuracy(reference, accuracy / ACCURACY_LOG, dtype)
        write_text(folder / VERIFY_ACCURACY, verdict.text())
        lines.append(f"{test} accuracy: {PASS if verdict.passed else FAIL} "
                     f"({verdict.matched} responses compared, {verdict.mismatched} differ)")
        if score is not None:
            with tempfile.TemporaryDirectory() as tmp:
                base = Path(tmp) / ACCURACY_LOG
                base.write_text(json.dumps(baseline_entries(reference, accuracy / ACCURACY_LOG)))
                write_text(accuracy / BASELINE_ACCURACY, score(base) + "\n")
            compliance_line = score(accuracy / ACCURACY_LOG)
            write_text(accuracy / COMPLIANCE_ACCURACY, compliance_line + "\n")
            write_text(accuracy / ACCURACY_TXT, compliance_line + "\n")
    perf = verify_performance(test, scenario_dir / "performance" / "run_1" / DETAIL, run / DETAIL)
    write_text(folder / VERIFY_PERFORMANCE, perf.text())
    lines.append(f"{test} performance: {perf.text().strip().splitlines()[-1]}")
    return lines


def _verify_test06(folder: Path, scenario: str, dtype: str, model_path) -> str:
    from mlperf_harness.llm import test06

    accuracy = folder / "accuracy"
    accuracy.mkdir(parents=True, exist_ok=True)
    logged = folder / "performance" / "run_1" / ACCURACY_LOG
    if logged.exists():
        os.replace(logged, accuracy / ACCURACY_LOG)
    verdict = test06.verify(accuracy / ACCURACY_LOG, scenario, dtype, test06.eos_token_id(model_path))
    write_text(folder / VERIFY_ACCURACY, verdict.text())
    first_problem = f"; {verdict.problems[0]}" if verdict.problems else ""
    return (f"TEST06 accuracy: {PASS if verdict.passed else FAIL} "
            f"({verdict.samples} responses checked{first_problem})")
