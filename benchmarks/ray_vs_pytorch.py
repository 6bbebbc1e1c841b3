#!/usr/bin/env python3
"""Ray's bert throughput next to the plain pytorch backend's, on the same stand-in, in containers.

    python benchmarks/ray_vs_pytorch.py [--rounds 3] [--threads 2] [--queries 2048] [--json out.json]

Runs `mlperf-docker run` (Offline, performance, the bert pytorch stand-in: the same weights in both
images) for _pytorch and _ray in turn, --rounds times interleaved, and prints LoadGen's samples per
second for each (median and range) and the ratio ray/pytorch of each pair. ``--threads N`` is N
intra-op threads for pytorch and N actors of one thread each for ray: the same CPUs. The images must
be built (`mlperf-docker build --variation _pytorch,_cpu,_bert-99` and `_ray,_cpu,_bert-99`).
It asserts nothing; the JSON file has every reading.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("pytorch", "ray")


def offline_qps(framework: str, threads: int, queries: int, work: Path) -> float:
    out = Path(tempfile.mkdtemp(prefix=f"{framework}-", dir=work))
    proc = subprocess.run([sys.executable, "-m", "launcher.cli", "run", "--variation",
                           f"_{framework},_cpu,_bert-99", "--scenario", "Offline", "--mode", "performance",
                           "--threads", str(threads), "--test_query_count", str(queries),
                           "--output_dir", str(out)], cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: the {framework} run failed: {(proc.stderr or proc.stdout).strip()[-500:]}")
    [summary] = out.glob("*/*/bert-99/Offline/performance/run_1/mlperf_log_summary.txt")
    return float(re.search(r"^Samples per second\s*:\s*([\d.]+)", summary.read_text(), re.M).group(1))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/ray_vs_pytorch.py", description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="pytorch intra-op threads = ray actors")
    p.add_argument("--queries", type=int, default=2048, help="samples in the Offline query")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    readings = {f: [] for f in FRAMEWORKS}
    with tempfile.TemporaryDirectory(prefix="ray-bench-") as work:
        for n in range(args.rounds):
            for framework in (FRAMEWORKS if n % 2 == 0 else FRAMEWORKS[::-1]):
                readings[framework].append(offline_qps(framework, args.threads, args.queries, Path(work)))
    ratios = [r / p for p, r in zip(readings["pytorch"], readings["ray"])]
    for name, values in list(readings.items()) + [("ray/pytorch", ratios)]:
        print(f"{name:12s} median {statistics.median(values):10.3f}  range {min(values):.3f}..{max(values):.3f}"
              f"{'' if name == 'ray/pytorch' else ' samples/s'}")
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "queries": args.queries,
                                         "samples_per_second": readings, "ratio_ray_pytorch": ratios}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
