"""The run command's options: the contract's benchmark settings plus the launcher-only ones, in one table each.

Benchmark settings (scenario, mode, count, target_qps, ...) are defined ONCE, in the launcher <-> harness
contract (mlperf_harness.contract.SETTINGS); `run` offers every one of them the launcher does not compute
itself. The launcher-only settings (host paths, container options, the run's bookkeeping) are the
LAUNCH_OPTIONS table below. The CLI's `run` options are generated from both tables (launcher/cli/run.py),
so adding a flag is one entry here (or in the contract) plus its one use in the plan (launcher/run/plan.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from mlperf_harness.contract import RUN_FLAGS, BenchmarkSettings, Setting, SettingsError

from launcher.errors import UsageError
from launcher.spec.variation import SCENARIOS, Variation

# The contract's run flags: every benchmark setting but those the plan computes (Setting.computed).
BENCHMARK_FLAGS: tuple[Setting, ...] = RUN_FLAGS
BENCHMARK_FLAGS_BY_NAME = {s.name: s for s in BENCHMARK_FLAGS}


def _user(value: str) -> str | None:
    uid, _, gid = value.partition(":")
    return None if uid.isdigit() and (not gid or gid.isdigit()) else "expected UID or UID:GID (numbers)"


def _file(value: Path) -> str | None:
    return None if value.is_file() else "no such file"


def _imagenet(value: Path) -> str | None:
    return None if (value / "val_map.txt").is_file() else "expected an ImageNet validation folder with val_map.txt"


def _folder(value: Path) -> str | None:
    return None if value.is_dir() else "no such folder"


def _memory(value: str) -> str | None:
    ok = re.fullmatch(r"[1-9][0-9]*[bkmg]?", value.strip().lower())
    return None if ok else "expected a size such as 8g or 512m (a number with an optional b, k, m or g)"


@dataclass(frozen=True)
class LaunchOption:
    """A launcher-only option of `run`: the field of RunOptions it fills and its flag(s)."""

    name: str  # the RunOptions field
    type: type
    help: str
    default: object = None
    flags: tuple[str, ...] = ()  # spellings; default: --name and --name-with-dashes; a bool flag flips `default`
    check: Callable[[object], str | None] | None = None  # why a (non-None) value is bad, or None
    shown: bool = False  # a check message quotes the value with repr() (strings) instead of str()

    @property
    def spellings(self) -> tuple[str, ...]:
        return self.flags or _spellings("--" + self.name)


def _spellings(flag: str, *aliases: str) -> tuple[str, ...]:
    dashed = flag.replace("_", "-")
    return (flag, *aliases) + ((dashed,) if dashed != flag and dashed not in aliases else ())


LAUNCH_OPTIONS: tuple[LaunchOption, ...] = (
    LaunchOption("hw_name", str, "system name prefix (default: hostname)"),
    LaunchOption("output_dir", Path, "a new folder per run is made inside", default=Path("mlperf-results")),
    LaunchOption("custom_model", Path, "a custom model file (mounted read-only)", flags=("--model",), check=_file),
    LaunchOption("imagenet_path", Path, "your ImageNet validation folder (mounted read-only)", check=_imagenet),
    LaunchOption("dataset_path", Path, "your copy of the model's dataset (mounted read-only)", check=_folder),
    LaunchOption("rerun", bool, "run even if this configuration has complete results", default=False),
    LaunchOption("clean", bool, "remove earlier incomplete runs in --output_dir first", default=False),
    LaunchOption("user", str, "UID[:GID] in the container (default: yours)", flags=("--user",), check=_user, shown=True),
    LaunchOption("timeout", float, "stop the benchmark after this many seconds", default=3600.0, flags=("--timeout",)),
    LaunchOption("standin", bool, "the image with the real model instead of the stand-in", default=True,
                 flags=("--real",)),
    LaunchOption("gpus", str, "_cuda: all or GPU indices/UUIDs; _rocm: all, indices or renderD nodes", flags=("--gpus",)),
    LaunchOption("memory", str, "the container's memory limit, e.g. 8g (docker run --memory)", flags=("--memory",),
                 check=_memory, shown=True),
)
BENCHMARK_SPELLINGS = {s.name: _spellings(s.flag, *s.aliases) for s in BENCHMARK_FLAGS}


@dataclass(frozen=True)
class RunOptions:
    """What the user asked of `run`: benchmark settings (the contract's) and the launcher-only options."""

    benchmark: BenchmarkSettings = field(default_factory=lambda: BenchmarkSettings(scenario="Offline"))
    hw_name: str | None = None
    output_dir: Path = Path("mlperf-results")
    custom_model: Path | None = None
    imagenet_path: Path | None = None
    dataset_path: Path | None = None
    rerun: bool = False
    clean: bool = False
    user: str | None = None
    timeout: float | None = 3600.0
    standin: bool = True
    gpus: str | None = None
    memory: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, scenarios: tuple[str, ...] | None = None, **values) -> "RunOptions":
        """Flat keyword values (benchmark settings and launcher options by name) into RunOptions."""
        bench = {k: values.pop(k) for k in list(values) if k in BENCHMARK_FLAGS_BY_NAME}
        bench["scenario"] = ",".join(scenarios) if scenarios else bench.get("scenario") or "Offline"
        return cls(benchmark=BenchmarkSettings(**bench), **values)

    @property
    def scenarios(self) -> tuple[str, ...]:
        return tuple(self.benchmark.scenarios)

    @property
    def mode(self) -> str:
        return self.benchmark.get("mode")

    def signature(self, variation: Variation) -> str:
        """What makes two runs the same benchmark (for --rerun): the variation and every benchmark flag."""
        ignored = {"output_dir", "rerun", "clean", "timeout", "user", "extra_env", "memory", "benchmark"}
        data = {k: v for k, v in asdict(self).items() if k not in ignored}
        data.update({k: v for k, v in asdict(self.benchmark).items() if v is not None})
        data["variation"] = str(variation)
        blob = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def from_flags(variation: Variation, values: dict) -> RunOptions:
    """The run command's flags (by name, None = not given) into checked RunOptions."""
    values = dict(values)
    bench = {s.name: values.pop(s.name, None) for s in BENCHMARK_FLAGS}
    bench = {k: (v.lower() if isinstance(v, str) and BENCHMARK_FLAGS_BY_NAME[k].choices else v) for k, v in bench.items()}
    bench["scenario"] = ",".join(resolve_scenarios(variation, bench["scenario"]))
    bench["max_batchsize"] = resolve_batch_size(variation, bench["max_batchsize"])
    bench["mode"] = bench["mode"] or "accuracy"
    bench["run_style"] = bench["run_style"] or "test"
    launch = {o.name: values[o.name] for o in LAUNCH_OPTIONS if values.get(o.name) is not None}
    options = RunOptions(benchmark=BenchmarkSettings(**bench), **launch)
    validate(options)
    return options



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


def validate(options: RunOptions) -> None:
    """The contract's checks of the benchmark settings, then each launcher option's own check."""
    try:
        options.benchmark.validate()
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    for option in LAUNCH_OPTIONS:
        value = getattr(options, option.name)
        if option.check is not None and value is not None and (why := option.check(value)):
            raise UsageError(f"{option.spellings[0]} {repr(value) if option.shown else value}: {why}")
    if options.imagenet_path is not None and options.dataset_path is not None:
        raise UsageError("--imagenet_path and --dataset_path both name the dataset; give one")
