"""Reading finished run folders (`mlperf-docker run` output) for a submission or a report.

A run folder holds run.json (the launcher's record: variation, image, scenarios, mode...)
and, per <system>/<model>/<Scenario>/, the harness's MLPerf results tree. Only complete
runs are used (the run lifecycle's verified COMPLETE record). Nothing here writes.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from mlperf_harness.contract import (ACCURACY_LOG, ACCURACY_TXT, DETAIL, MEASUREMENTS, SUMMARY,
                                     USER_CONF, detail_values)

from launcher.errors import UsageError
from launcher.run.lifecycle import INCOMPLETE, RUN_RECORD, is_complete
SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream")
AUDIT_TESTS = ("TEST01", "TEST04", "TEST06")
# The pinned checker's (v6.1) scenario for a model run under another's LoadGen key in its image:
# llama2-70b-interactive-99(.9)'s Server run is the `Interactive` scenario of llama2-70b-99(.9).
CHECKER_SCENARIOS = {("llama2-70b-interactive", "Server"): "Interactive"}
MEASUREMENT_FIELDS = ("input_data_types", "retraining", "starting_weights_filename",
                      "weight_data_types", "weight_transformations")


@dataclass(frozen=True)
class ScenarioResult:
    """One <system>/<model>/<Scenario> folder of a run."""

    run: Path
    system: str
    model: str
    scenario: str
    path: Path
    audits: tuple[str, ...] = ()
    # where the submission tree puts it, in the checker's names (default: model, scenario)
    submission_model: str = ""
    submission_scenario: str = ""

    @property
    def submission_path(self) -> tuple[str, str, str]:
        return (self.system, self.submission_model or self.model,
                self.submission_scenario or self.scenario)

    @property
    def performance(self) -> Path:
        return self.path / "performance" / "run_1"

    @property
    def accuracy(self) -> Path:
        return self.path / "accuracy"

    def key(self) -> tuple[str, str, str]:
        return self.submission_path


@dataclass
class RunFolder:
    path: Path
    record: dict
    results: list[ScenarioResult] = field(default_factory=list)

    @property
    def image(self) -> str | None:
        return self.record.get("image")

    @property
    def standin(self) -> bool:
        """A generated model or dataset ran: run.json's record, else (older runs) the image tag's -standin."""
        return self.record.get("standin", (self.image or "").endswith("-standin"))

    def loadgen_version(self) -> str | None:
        for result in self.results:
            for folder in (result.performance, result.accuracy):
                if (folder / DETAIL).is_file():
                    version = detail_values(folder / DETAIL).get("loadgen_version")
                    if version:
                        return str(version)
        return None


def load_run(path: Path, need_accuracy: bool = True) -> RunFolder:
    """A complete run folder with at least one result, or UsageError (one line)."""
    path = Path(path)
    if not path.is_dir():
        raise UsageError(f"{path}: no such run folder")
    record_file = path / RUN_RECORD
    if not record_file.is_file():
        raise UsageError(f"{path} is not an mlperf-docker run folder (no {RUN_RECORD})")
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{record_file} is not readable JSON ({exc})") from None
    if not isinstance(record, dict):
        raise UsageError(f"{record_file} is not an mlperf-docker run record")
    if not is_complete(path):
        why = ""
        if (path / INCOMPLETE).is_file():
            why = (path / INCOMPLETE).read_text(errors="replace").strip().splitlines()[:1]
            why = f" ({why[0]})" if why else ""
        raise UsageError(f"{path} is an incomplete run{why}; only complete runs can be used")
    run = RunFolder(path, record)
    for perf in sorted(path.glob(f"*/*/*/performance/run_1/{SUMMARY}")):
        scenario_dir = perf.parents[2]
        if scenario_dir.name not in SCENARIOS:
            continue
        audits = tuple(t for t in AUDIT_TESTS if (scenario_dir / t).is_dir())
        model, scenario = scenario_dir.parent.name, scenario_dir.name
        run.results.append(ScenarioResult(path, scenario_dir.parent.parent.name, model, scenario,
                                          scenario_dir, audits, *checker_names(model, scenario)))
    if not run.results:
        raise UsageError(f"{path} holds no performance results")
    for result in run.results:
        _check_files(result, need_accuracy)
    return run


@functools.lru_cache(maxsize=1)
def _spec_models() -> dict:
    """images.yaml's models, read once (not once per scenario folder)."""
    from launcher.spec.model import load_spec

    return load_spec().models


def checker_names(model: str, scenario: str) -> tuple[str, str]:
    """(model, scenario) as the pinned checker names them: a model running in another's image
    (images.yaml `image`) under a LoadGen key of CHECKER_SCENARIOS is that model's scenario."""
    entry = _spec_models().get(model)
    folder = CHECKER_SCENARIOS.get((entry.loadgen_key, scenario)) if entry and entry.image else None
    return (entry.image, folder) if folder else (model, scenario)


def _check_files(result: ScenarioResult, need_accuracy: bool) -> None:
    where = f"{result.run}: {result.system}/{result.model}/{result.scenario}"
    needed = [result.performance / SUMMARY, result.performance / DETAIL,
              result.path / USER_CONF, result.path / MEASUREMENTS]
    if need_accuracy:
        needed += [result.accuracy / name for name in (SUMMARY, DETAIL, ACCURACY_LOG, ACCURACY_TXT)]
    for file in needed:
        if not file.is_file():
            hint = " (run with --mode both)" if file.parent == result.accuracy else ""
            raise UsageError(f"{where} lacks {file.relative_to(result.path)}{hint}")
    if need_accuracy:
        try:
            data = json.loads((result.path / MEASUREMENTS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise UsageError(f"{where}: {MEASUREMENTS} is not readable JSON") from None
        missing = [k for k in MEASUREMENT_FIELDS if not isinstance(data, dict) or not data.get(k)]
        if missing:
            raise UsageError(f"{where}: {MEASUREMENTS} lacks {', '.join(missing)}")


def load_runs(paths, need_accuracy: bool = True) -> list[RunFolder]:
    """Every run checked before anything is done; two runs may not hold the same result."""
    runs = [load_run(Path(p), need_accuracy) for p in paths]
    seen: dict[tuple[str, str, str], Path] = {}
    for run in runs:
        for result in run.results:
            if result.key() in seen:
                raise UsageError(f"{seen[result.key()]} and {run.path} both hold "
                                 f"{'/'.join(result.key())}; give one of them")
            seen[result.key()] = run.path
    return runs
