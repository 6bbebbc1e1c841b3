"""Command line: arguments -> RunPlan -> runner.

python -m mlperf_harness --model resnet50 --backend onnxruntime --device cpu
    --model-path FILE --dataset-path DIR --output-dir DIR --system NAME
    --scenario Offline --mode accuracy [--count N] [--max-batchsize 32]
    [--threads N] [--run-style test|valid] [--test-query-count N]
    [--target-qps F] [--target-latency-ms F]

Exit status: 0 when every requested test completed and wrote its files;
1 on a runtime failure (one ``error:`` line on stderr); 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from mlperf_harness import __version__
from mlperf_harness.backends import backend_names
from mlperf_harness.errors import AlreadyReported, HarnessError, describe
from mlperf_harness.models import supported_models
from mlperf_harness.plan import (DEFAULT_TEST_QUERY_COUNT, DEVICES, RUN_STYLES, RunPlan,
                                 expand_modes, parse_scenarios)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mlperf_harness",
        description="Run MLPerf inference tests (LoadGen) and write an MLPerf results tree.")
    p.add_argument("--version", action="version", version=f"mlperf_harness {__version__}")
    p.add_argument("--model", default="resnet50", choices=supported_models())
    p.add_argument("--backend", default="onnxruntime", choices=backend_names())
    p.add_argument("--device", default="cpu", choices=DEVICES)
    p.add_argument("--model-path", required=True, help="model file")
    p.add_argument("--dataset-path", required=True, help="dataset folder")
    p.add_argument("--output-dir", required=True, help="results root (a fresh folder)")
    p.add_argument("--system", default="default_system", help="system name (results folder)")
    p.add_argument("--scenario", action="append", metavar="SCENARIO",
                   help="Offline, Server, SingleStream, MultiStream (case-insensitive); "
                        "repeat or comma-separate to run several (default: Offline)")
    p.add_argument("--mode", default="accuracy", choices=("accuracy", "performance", "both"),
                   help="both = accuracy then performance (default: accuracy)")
    p.add_argument("--count", type=_positive_int,
                   help="dataset samples to use (default: all)")
    p.add_argument("--max-batchsize", type=_positive_int, default=32)
    p.add_argument("--threads", type=_positive_int, help="framework intra-op threads")
    p.add_argument("--run-style", default="test", choices=RUN_STYLES,
                   help="test: short runs of --test-query-count queries; "
                        "valid: MLPerf minimums (default: test)")
    p.add_argument("--test-query-count", type=_positive_int, default=DEFAULT_TEST_QUERY_COUNT)
    p.add_argument("--target-qps", type=_positive_float, help="Offline/Server target_qps")
    p.add_argument("--target-latency-ms", type=_positive_float,
                   help="SingleStream/MultiStream target_latency")
    return p


def parse_plan(argv: Optional[List[str]] = None) -> RunPlan:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        scenarios = parse_scenarios(args.scenario or ["Offline"])
    except HarnessError as exc:
        parser.error(str(exc))
    return RunPlan(
        model=args.model, backend=args.backend, device=args.device,
        model_path=os.path.abspath(args.model_path),
        dataset_path=os.path.abspath(args.dataset_path),
        output_dir=os.path.abspath(args.output_dir), system=args.system,
        scenarios=scenarios, modes=expand_modes(args.mode), count=args.count,
        max_batchsize=args.max_batchsize, threads=args.threads, run_style=args.run_style,
        test_query_count=args.test_query_count, target_qps=args.target_qps,
        target_latency_ms=args.target_latency_ms)


def main(argv: Optional[List[str]] = None) -> int:
    plan = parse_plan(argv)
    from mlperf_harness.runner import run_plan

    try:
        return run_plan(plan)
    except AlreadyReported:
        return 1
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("MLPERF_HARNESS_DEBUG"):
            raise
        print(f"error: {describe(exc)}", file=sys.stderr)
        return 1
