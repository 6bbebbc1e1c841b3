"""Command line: arguments -> RunPlan -> runner.

python -m mlperf_harness --model resnet50 --backend onnxruntime --device cpu
    --model_path FILE --dataset_path DIR --output_dir DIR --system NAME
    --scenario Offline --mode accuracy [--count N] [--max_batchsize 32] ...

The flags are contract.SETTINGS (``--help`` lists them): the seed's underscore
spelling is canonical (--test_query_count), the hyphenated one still works
(--test-query-count, --target-latency-ms).

Exit status: 0 when every requested test completed and wrote its files;
1 on a runtime failure (one ``error:`` line on stderr); 2 on bad arguments
(one ``python -m mlperf_harness: error:`` line on stderr).
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

from mlperf_harness import __version__
from mlperf_harness.contract import BenchmarkSettings
from mlperf_harness.errors import AlreadyReported, HarnessError, UsageError, describe
from mlperf_harness.models import get_model, supported_models
from mlperf_harness.plan import RunPlan

PROG = "python -m mlperf_harness"


def _usage_error(message: str):
    sys.stderr.write(f"{PROG}: error: {message}\n")
    sys.exit(2)


def parse_plan(argv: Optional[List[str]] = None) -> RunPlan:
    """The harness's parser IS the contract's: BenchmarkSettings.from_argv, then the checks
    that need the model table (model name, --dataset_args keys)."""
    settings = BenchmarkSettings.from_argv(argv, prog=PROG, version=f"mlperf_harness {__version__}")
    try:
        supported = supported_models()
    except HarnessError as exc:  # no readable images.yaml: a broken image, not a usage error
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(1)
    if settings.model not in supported:
        _usage_error(f"argument --model: invalid choice: {settings.model!r} "
                     f"(choose from {', '.join(supported)})")
    model = get_model(settings.model)
    refused = [s for s in settings.scenarios if model.scenarios and s not in model.scenarios]
    if refused:
        _usage_error(f"{settings.model} runs {' and '.join(model.scenarios)} only (as the "
                     f"reference); not {', '.join(refused)}")
    try:
        dataset_args = model.parse_dataset_args(settings.dataset_args)
    except HarnessError as exc:
        _usage_error(str(exc))
    return RunPlan.from_settings(settings, dataset_args)


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
