"""Find the Server peak: the highest server_target_qps whose run is VALID.

A bounded search, as the reference's submitters do by hand: a short Offline
run measures the throughput, which is where the search starts; short Server
performance runs (each a LoadGen test in its own process, as every test is)
then bracket the peak (halving or doubling the target) and bisect it until
the bracket is within ``tolerance`` or ``max_steps`` runs are spent. An
INVALID step is run once more before the search goes below it (``RETRIES``):
a one-second step fails on a single stall of another process on a shared
host, and validity must fall with the target for a bisection to be right.

Results, under the Server scenario folder:

    find_peak/offline/          the Offline run the search starts from
    find_peak/step_N/           every Server step: LoadGen's logs and its user.conf
    performance/run_1/          the logs of the highest VALID step (the Server result)
    peak.conf                   ``<model>.Server.target_qps = X``, user.conf syntax

:func:`search` is the search alone (any ``is_valid(qps)``); :func:`find_peak`
runs it with real tests through a ``run(scenario, conf_text, folder)`` callable.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from mlperf_harness.errors import HarnessError

MAX_STEPS = 10  # Server runs, retries included
RETRIES = 1  # more runs of an INVALID target before the search goes below it
TOLERANCE = 0.05  # stop when the bracket is this narrow, relative to its top
STEP_DURATION_MS = 1000  # each Server step runs at least this long...
STEP_MIN_QUERIES = 500  # ...and this many queries (LoadGen's p99 early stopping needs ~460)
PEAK_CONF = "peak.conf"
FOLDER = "find_peak"


@dataclass
class Search:
    peak: Optional[float] = None  # the highest VALID target, None if none was
    steps: List[Tuple[float, bool]] = field(default_factory=list)  # (target qps, valid)


def search(is_valid: Callable[[float], bool], start_qps: float, max_steps: int = MAX_STEPS,
           tolerance: float = TOLERANCE, retries: int = 0) -> Search:
    """Bracket then bisect the highest ``qps`` with ``is_valid(qps)``, calling it at
    most ``max_steps`` times; assumes validity falls as qps rises. An INVALID target is
    tried up to ``retries`` more times before the search goes below it (a short step
    on a shared host fails on one stall of another process); the peak is always a
    target that had a VALID run."""
    if not start_qps > 0:
        raise HarnessError(f"find-peak needs a positive starting QPS, got {start_qps}")
    result = Search()
    low: Optional[float] = None
    high: Optional[float] = None

    def probe(qps: float) -> bool:
        for _ in range(1 + max(0, retries)):
            ok = bool(is_valid(qps))
            result.steps.append((qps, ok))
            if ok or len(result.steps) >= max_steps:
                return ok
        return False

    qps = start_qps
    while len(result.steps) < max_steps and (low is None or high is None):
        if probe(qps):
            low, qps = qps, qps * 2
        else:
            high, qps = qps, qps / 2
    while low is not None and high is not None and len(result.steps) < max_steps \
            and high - low > tolerance * high:
        middle = (low + high) / 2
        if probe(middle):
            low = middle
        else:
            high = middle
    result.peak = low
    return result


def rounded(qps: float) -> float:
    """A target as written and run: 4 significant digits."""
    return float(f"{qps:.4g}")


def step_conf_text(base_conf: str, key: str, qps: float) -> str:
    """The scenario's user.conf with a step's target and length (later lines win)."""
    prefix = f"{key}.Server."
    return base_conf.rstrip("\n") + "\n" + "\n".join([
        "# find-peak step",
        f"{prefix}target_qps = {qps:g}",
        f"{prefix}min_duration = {STEP_DURATION_MS}",
        f"{prefix}min_query_count = {STEP_MIN_QUERIES}",
        f"{prefix}max_query_count = 0",
    ]) + "\n"


def peak_conf_text(key: str, qps: float) -> str:
    return (f"# the Server peak found by mlperf_harness --find_peak (highest VALID target_qps)\n"
            f"{key}.Server.target_qps = {qps:g}\n")


def find_peak(run: Callable[[str, str, Path], Dict[str, str]], key: str, offline_conf: str,
              server_conf: str, server_dir: Path, result_dir: Path,
              max_steps: int = MAX_STEPS, tolerance: float = TOLERANCE,
              retries: int = RETRIES) -> Search:
    """Run the search; ``run(scenario, conf_text, folder)`` runs one performance
    test logging into ``folder`` (created here, empty) and returns its summary.
    Copies the highest VALID step's logs into ``result_dir`` and writes peak.conf."""
    root = Path(server_dir) / FOLDER
    if root.exists():
        raise HarnessError(f"{root} already holds a find-peak search; use a fresh --output_dir")
    folder = root / "offline"
    folder.mkdir(parents=True)
    summary = run("Offline", offline_conf, folder)
    try:
        start = float(summary["Samples per second"])
    except (KeyError, ValueError):
        raise HarnessError(f"find-peak: the Offline run in {folder} reported no throughput") \
            from None
    print(f"find-peak: Offline {start:.1f} samples/s; searching Server targets from there",
          flush=True)
    folders: Dict[float, Path] = {}  # target -> its latest step (a retried target's retry)
    runs = [0]

    def is_valid(qps: float) -> bool:
        qps = rounded(qps)
        runs[0] += 1
        step = root / f"step_{runs[0]}"
        step.mkdir()
        folders[qps] = step
        result = run("Server", step_conf_text(server_conf, key, qps), step)
        valid = result.get("Result is") == "VALID"
        latency = result.get("99.00 percentile latency (ns)")
        detail = f", p99 {float(latency) / 1e6:.2f} ms" if latency else ""
        print(f"find-peak step {runs[0]}: target {qps:g} qps: "
              f"{'VALID' if valid else 'INVALID'}{detail}", flush=True)
        return valid

    outcome = search(is_valid, start, max_steps, tolerance, retries)
    outcome.steps = [(rounded(qps), ok) for qps, ok in outcome.steps]
    if outcome.peak is None:
        raise HarnessError(f"find-peak: no Server run was VALID (lowest target tried "
                           f"{min(q for q, _ in outcome.steps):g} qps); logs in {root}")
    outcome.peak = rounded(outcome.peak)
    best = folders[outcome.peak]
    result_dir = Path(result_dir)
    result_dir.mkdir(parents=True, exist_ok=True)
    for item in sorted(best.iterdir()):
        if item.is_file():
            shutil.copy2(item, result_dir / item.name)
    (Path(server_dir) / PEAK_CONF).write_text(peak_conf_text(key, outcome.peak), encoding="utf-8")
    print(f"find-peak: Server peak {outcome.peak:g} qps (VALID, from {best.name}); "
          f"written to {Path(server_dir) / PEAK_CONF}", file=sys.stdout, flush=True)
    return outcome
