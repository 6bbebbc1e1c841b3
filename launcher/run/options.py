"""The seed's run flags, typed and checked: contradictions and out-of-range values are one-line errors."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from launcher.errors import UsageError
from launcher.spec.variation import SCENARIOS, Variation

MODES = ("accuracy", "performance", "both")
RUN_STYLES = ("test", "valid")


@dataclass(frozen=True)
class RunOptions:
    scenarios: tuple[str, ...] = ("Offline",)
    mode: str = "accuracy"
    count: int | None = None
    test_query_count: int | None = None
    max_batchsize: int | None = None
    threads: int | None = None
    target_qps: float | None = None
    offline_target_qps: float | None = None
    server_target_qps: float | None = None
    target_latency: float | None = None  # ms
    singlestream_target_latency: float | None = None  # ms
    multistream_target_latency: float | None = None  # ms
    run_style: str = "test"
    hw_name: str | None = None
    output_dir: Path = Path("mlperf-results")
    dataset_args: str | None = None
    custom_model: Path | None = None
    imagenet_path: Path | None = None
    dataset_path: Path | None = None
    rerun: bool = False
    clean: bool = False
    user: str | None = None
    timeout: float | None = 3600.0
    standin: bool = True
    gpus: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def signature(self, variation: Variation) -> str:
        """What makes two runs the same benchmark (for --rerun): the variation and every benchmark flag."""
        ignored = {"output_dir", "rerun", "clean", "timeout", "user", "extra_env"}
        data = {k: v for k, v in asdict(self).items() if k not in ignored}
        data["variation"] = str(variation)
        blob = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def resolve_scenarios(variation: Variation, flag: str | None) -> tuple[str, ...]:
    """`--scenario` (comma list, any case) and a `_offline`-style variation must agree; default Offline."""
    chosen: list[str] = []
    for item in (flag or "").split(","):
        item = item.strip()
        if not item:
            continue
        canonical = SCENARIOS.get(item.lower())
        if canonical is None:
            raise UsageError(f"--scenario {item!r}: expected one of {', '.join(SCENARIOS.values())}")
        if canonical not in chosen:
            chosen.append(canonical)
    if variation.scenario and chosen and chosen != [variation.scenario]:
        raise UsageError(f"--scenario {flag} contradicts the variation _{variation.scenario.lower()}")
    return tuple(chosen) or ((variation.scenario,) if variation.scenario else ("Offline",))


def resolve_batch_size(variation: Variation, flag: int | None) -> int | None:
    if flag is not None and flag < 1:
        raise UsageError(f"--max_batchsize {flag}: expected a positive integer")
    if variation.batch_size and flag and variation.batch_size != flag:
        raise UsageError(f"--max_batchsize {flag} contradicts the variation _batch_size.{variation.batch_size}")
    return flag or variation.batch_size


# flag -> the scenarios it applies to
_SCENARIO_FLAGS = {
    "target_qps": ("Offline", "Server"),
    "offline_target_qps": ("Offline",),
    "server_target_qps": ("Server",),
    "target_latency": ("SingleStream", "MultiStream", "Server"),
    "singlestream_target_latency": ("SingleStream",),
    "multistream_target_latency": ("MultiStream",),
}


def validate(options: RunOptions) -> None:
    if options.mode not in MODES:
        raise UsageError(f"--mode {options.mode!r}: expected one of {', '.join(MODES)}")
    if options.run_style not in RUN_STYLES:
        raise UsageError(f"--run_style {options.run_style!r}: expected test or valid")
    for name in ("count", "test_query_count", "threads", "max_batchsize"):
        value = getattr(options, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name} {value}: expected a positive integer")
    for name, scenarios in _SCENARIO_FLAGS.items():
        value = getattr(options, name)
        if value is None:
            continue
        if value <= 0:
            raise UsageError(f"--{name} {value:g}: expected a positive number")
        if not set(scenarios) & set(options.scenarios):
            raise UsageError(f"--{name} applies to {' or '.join(scenarios)}, not to the scenarios run "
                             f"({', '.join(options.scenarios)})")
    if options.test_query_count is not None and options.run_style == "valid":
        raise UsageError("--test_query_count sets the length of test-style runs; it contradicts --run_style valid")
    if options.user and not _is_user(options.user):
        raise UsageError(f"--user {options.user!r}: expected UID or UID:GID (numbers)")
    if options.custom_model is not None and not options.custom_model.is_file():
        raise UsageError(f"--model {options.custom_model}: no such file")
    if options.imagenet_path is not None and not (options.imagenet_path / "val_map.txt").is_file():
        raise UsageError(f"--imagenet_path {options.imagenet_path}: expected an ImageNet validation folder with val_map.txt")
    if options.imagenet_path is not None and options.dataset_path is not None:
        raise UsageError("--imagenet_path and --dataset_path both name the dataset; give one")
    if options.dataset_path is not None and not options.dataset_path.is_dir():
        raise UsageError(f"--dataset_path {options.dataset_path}: no such folder")
    if options.dataset_args is not None:
        for item in options.dataset_args.split(","):
            if "=" not in item or not item.split("=", 1)[0].strip():
                raise UsageError(f"--dataset_args {options.dataset_args!r}: expected key=value[,key=value]")


def _is_user(value: str) -> bool:
    uid, _, gid = value.partition(":")
    return uid.isdigit() and (not gid or gid.isdigit())
