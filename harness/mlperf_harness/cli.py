"""Command line: arguments -> RunPlan -> runner.

python -m mlperf_harness --model resnet50 --backend onnxruntime --device cpu
    --model-path FILE --dataset-path DIR --output-dir DIR --system NAME
    --scenario Offline --mode accuracy [--count N] [--max-batchsize 32]
    [--threads N] [--run-style test|valid] [--test-query-count N]
    [--target-qps F] [--target-latency-ms F]
    [--offline-target-qps F] [--server-target-qps F]
    [--singlestream-target-latency-ms F] [--multistream-target-latency-ms F]
    [--dataset-args key=value,...]

Exit status: 0 when every requested test completed and wrote its files;
1 on a runtime failure (one ``error:`` line on stderr); 2 on bad arguments
(one ``python -m mlperf_harness: error:`` line on stderr).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import List, Optional

from mlperf_harness import __version__
from mlperf_harness.backends import backend_names, canonical
from mlperf_harness.datasets import DATASET_ARGS, parse_dataset_args
from mlperf_harness.errors import AlreadyReported, HarnessError, UsageError, describe
from mlperf_harness.models import get_model, supported_models
from mlperf_harness.plan import (DEFAULT_TEST_QUERY_COUNT, DEVICES, RUN_STYLES, RunPlan,
                                 expand_modes, parse_scenarios)

PROG = "python -m mlperf_harness"

# Upper bounds: beyond these a value is a typo, not a setting.
MAX_BATCHSIZE = 65536
MAX_THREADS = 4096
MAX_QUERY_COUNT = 10 ** 9
MAX_TARGET_QPS = 1e9
MAX_TARGET_LATENCY_MS = 1e7  # about 2.8 hours

SCENARIO_FLAGS = {
    "offline_target_qps": ("Offline", "qps"),
    "server_target_qps": ("Server", "qps"),
    "singlestream_target_latency_ms": ("SingleStream", "latency"),
    "multistream_target_latency_ms": ("MultiStream", "latency"),
}


def _int_in(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} must be at least {low}")
        if value > high:
            raise argparse.ArgumentTypeError(f"{value} is out of range (at most {high})")
        return value

    return parse


def _positive_float_upto(high: float):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if math.isnan(value) or not value > 0 or math.isinf(value):
            raise argparse.ArgumentTypeError(f"{text} must be a positive number")
        if value > high:
            raise argparse.ArgumentTypeError(f"{text} is out of range (at most {high:g})")
        return value

    return parse


_positive_int = _int_in(1, 2 ** 63 - 1)
_positive_float = _positive_float_upto(float("inf"))


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Run MLPerf inference tests (LoadGen) and write an MLPerf results tree.")
    p.add_argument("--version", action="version", version=f"mlperf_harness {__version__}")
    p.add_argument("--model", default="resnet50", choices=supported_models())
    p.add_argument("--backend", default="onnxruntime", type=canonical, choices=backend_names(),
                   help="framework (tensorflow = tf)")
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
    p.add_argument("--count", type=_int_in(1, 2 ** 31 - 1),
                   help="dataset samples to use (default: all)")
    p.add_argument("--max-batchsize", type=_int_in(1, MAX_BATCHSIZE), default=32,
                   help="largest batch handed to the framework (Offline, Server, MultiStream)")
    p.add_argument("--threads", type=_int_in(1, MAX_THREADS), help="framework intra-op threads")
    p.add_argument("--run-style", default="test", choices=RUN_STYLES,
                   help="test: short runs of --test-query-count queries; "
                        "valid: MLPerf minimums (default: test)")
    p.add_argument("--test-query-count", type=_int_in(1, MAX_QUERY_COUNT),
                   help=f"queries per test-style run (default: {DEFAULT_TEST_QUERY_COUNT})")
    p.add_argument("--target-qps", type=_positive_float_upto(MAX_TARGET_QPS),
                   help="Offline/Server target_qps")
    p.add_argument("--target-latency-ms", type=_positive_float_upto(MAX_TARGET_LATENCY_MS),
                   help="target_latency: SingleStream/MultiStream expected latency, "
                        "Server latency bound")
    p.add_argument("--offline-target-qps", type=_positive_float_upto(MAX_TARGET_QPS),
                   help="Offline target_qps (overrides --target-qps)")
    p.add_argument("--server-target-qps", type=_positive_float_upto(MAX_TARGET_QPS),
                   help="Server target_qps (overrides --target-qps)")
    p.add_argument("--singlestream-target-latency-ms",
                   type=_positive_float_upto(MAX_TARGET_LATENCY_MS),
                   help="SingleStream target_latency (overrides --target-latency-ms)")
    p.add_argument("--multistream-target-latency-ms",
                   type=_positive_float_upto(MAX_TARGET_LATENCY_MS),
                   help="MultiStream target_latency (overrides --target-latency-ms)")
    keys = "; ".join(f"{name}: {', '.join(sorted(options))}"
                     for name, options in DATASET_ARGS.items())
    p.add_argument("--dataset-args", metavar="KEY=VALUE,...",
                   help=f"options for the dataset ({keys})")
    return p


def parse_plan(argv: Optional[List[str]] = None) -> RunPlan:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        scenarios = parse_scenarios(args.scenario or ["Offline"])
        dataset_args = parse_dataset_args(get_model(args.model).dataset, args.dataset_args)
    except HarnessError as exc:
        parser.error(str(exc))
    if args.run_style == "valid" and args.test_query_count is not None:
        parser.error("--test-query-count applies to --run-style test only "
                     "(a valid run uses MLPerf's query counts)")
    scenario_qps, scenario_latency = {}, {}
    for dest, (scenario, kind) in SCENARIO_FLAGS.items():
        value = getattr(args, dest)
        if value is not None:
            (scenario_qps if kind == "qps" else scenario_latency)[scenario] = value
    return RunPlan(
        model=args.model, backend=args.backend, device=args.device,
        model_path=os.path.abspath(args.model_path),
        dataset_path=os.path.abspath(args.dataset_path),
        output_dir=os.path.abspath(args.output_dir), system=args.system,
        scenarios=scenarios, modes=expand_modes(args.mode), count=args.count,
        max_batchsize=args.max_batchsize, threads=args.threads, run_style=args.run_style,
        test_query_count=(args.test_query_count if args.test_query_count is not None
                          else DEFAULT_TEST_QUERY_COUNT),
        target_qps=args.target_qps, target_latency_ms=args.target_latency_ms,
        scenario_target_qps=scenario_qps, scenario_target_latency_ms=scenario_latency,
        dataset_args=dataset_args)


def main(argv: Optional[List[str]] = None) -> int:
    plan = parse_plan(argv)
    from mlperf_harness.runner import run_plan

    try:
        return run_plan(plan)
    except AlreadyReported:
        return 1
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
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
