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
import math
from dataclasses import asdict, dataclass, field, make_dataclass
from pathlib import Path
from typing import Callable

from mlperf_harness.contract import RUN_FLAGS, BenchmarkSettings, Setting, SettingsError

from launcher.errors import UsageError
from launcher.run.hardening import check_cpus, check_memory, check_shm_size
from launcher.run.hostcheck import hw_name_ok
from launcher.spec.variation import SCENARIOS, Variation

# The contract's run flags: every benchmark setting but those the plan computes (Setting.computed).
BENCHMARK_FLAGS: tuple[Setting, ...] = RUN_FLAGS
BENCHMARK_FLAGS_BY_NAME = {s.name: s for s in BENCHMARK_FLAGS}


def _user(value: str) -> str | None:
    uid, _, gid = value.partition(":")
    if not (uid.isdigit() and (not gid or gid.isdigit())):
        return "expected UID or UID:GID (numbers)"
    return "the benchmark container never runs as root" if int(uid) == 0 else None


def _output_dir(value: str | Path) -> str | None:
    return None if str(value).strip() else "expected a folder (a new folder per run is made inside)"


def _timeout(value: float) -> str | None:
    return None if math.isfinite(value) and value > 0 else "expected a finite number of seconds > 0"


def _hw_name(value: str) -> str | None:
    if not value or hw_name_ok(value):
        return None
    return "expected a plain name (letters, digits, . _ + -, not starting with . or -)"


def _file(value: Path) -> str | None:
    return None if value.is_file() else "no such file"


def _model(value: Path) -> str | None:
    """--model: a file, or a checkpoint folder (generative models and sdxl; the plan checks which one)."""
    return None if value.is_file() or value.is_dir() else "no such file or folder"


def _imagenet(value: Path) -> str | None:
    return None if (value / "val_map.txt").is_file() else "expected an ImageNet validation folder with val_map.txt"


def _folder(value: Path) -> str | None:
    return None if value.is_dir() else "no such folder"


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
    convert: Callable[[object], object] | None = None  # the flag's checked text -> the RunOptions value
    identity: bool = False  # part of what makes two runs the same benchmark (RunOptions.signature)

    @property
    def spellings(self) -> tuple[str, ...]:
        return self.flags or _spellings("--" + self.name)


def _spellings(flag: str, *aliases: str) -> tuple[str, ...]:
    dashed = flag.replace("_", "-")
    return (flag, *aliases) + ((dashed,) if dashed != flag and dashed not in aliases else ())


LAUNCH_OPTIONS: tuple[LaunchOption, ...] = (
    LaunchOption("hw_name", str, "system name prefix (default: hostname)", check=_hw_name, shown=True, identity=True),
    LaunchOption("output_dir", str, "a new folder per run is made inside", default=Path("mlperf-results"),
                 check=_output_dir, shown=True, convert=Path),
    LaunchOption("custom_model", Path, "a custom model file (mounted read-only)", flags=("--model",), check=_model, identity=True),
    LaunchOption("imagenet_path", Path, "your ImageNet validation folder (mounted read-only)", check=_imagenet, identity=True),
    LaunchOption("dataset_path", Path, "your copy of the model's dataset (mounted read-only)", check=_folder, identity=True),
    LaunchOption("rerun", bool, "run even if this configuration has complete results", default=False),
    LaunchOption("clean", bool, "remove earlier incomplete runs in --output_dir first", default=False),
    LaunchOption("user", str, "UID[:GID] in the container (default: yours)", flags=("--user",), check=_user, shown=True),
    LaunchOption("timeout", float, "stop the benchmark after this many seconds", default=3600.0, flags=("--timeout",),
                 check=_timeout),
    LaunchOption("standin", bool, "the image with the real model instead of the stand-in", default=True,
                 flags=("--real",), identity=True),
    LaunchOption("gpus", str, "_cuda: all or GPU indices/UUIDs; _rocm: all, indices or renderD nodes", flags=("--gpus",), identity=True),
    LaunchOption("memory", str, "the container's memory limit, e.g. 8g (docker run --memory; no swap on top)",
                 flags=("--memory",), check=check_memory, shown=True),
    LaunchOption("cpus", str, "the CPUs the container may use, e.g. 4 or 1.5 (docker run --cpus)", flags=("--cpus",),
                 check=check_cpus, shown=True, identity=True),
    LaunchOption("shm_size", str, "/dev/shm size, e.g. 16g (LLM and DLRM runs need it; docker run --shm-size)",
                 flags=("--shm-size", "--shm_size"), check=check_shm_size, shown=True),
)
BENCHMARK_SPELLINGS = {s.name: _spellings(s.flag, *s.aliases) for s in BENCHMARK_FLAGS}


class _RunOptionsBase:
    """RunOptions' behaviour; its fields are generated from LAUNCH_OPTIONS below (one definition per flag)."""

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
        """What makes two runs the same benchmark (for --rerun): the variation, every benchmark setting given
        and the launcher options marked `identity`."""
        data = {o.name: getattr(self, o.name) for o in LAUNCH_OPTIONS if o.identity}
        data.update({k: v for k, v in asdict(self.benchmark).items() if v is not None})
        data["variation"] = str(variation)
        blob = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


# What the user asked of `run`: the contract's benchmark settings, one field per launcher option, and
# environment for the container (tests).
RunOptions = make_dataclass("RunOptions", [
    ("benchmark", BenchmarkSettings, field(default_factory=lambda: BenchmarkSettings(scenario="Offline"))),
    *[(o.name, object, field(default=o.convert(o.default) if o.convert and o.default is not None else o.default))
      for o in LAUNCH_OPTIONS],
    ("extra_env", dict, field(default_factory=dict)),
], bases=(_RunOptionsBase,), frozen=True)
RunOptions.__module__ = __name__


def from_flags(variation: Variation, values: dict) -> RunOptions:
    """The run command's flags (by name, None = not given) into checked RunOptions."""
    values = dict(values)
    bench = {s.name: values.pop(s.name, None) for s in BENCHMARK_FLAGS}
    bench = {k: (v.lower() if isinstance(v, str) and BENCHMARK_FLAGS_BY_NAME[k].choices else v) for k, v in bench.items()}
    bench["scenario"] = ",".join(resolve_scenarios(variation, bench["scenario"]))
    bench["max_batchsize"] = resolve_batch_size(variation, bench["max_batchsize"])
    bench["mode"] = bench["mode"] or "accuracy"
    bench["run_style"] = bench["run_style"] or "test"
    launch = {}
    for option in LAUNCH_OPTIONS:
        if (value := values.get(option.name)) is not None and option.convert is not None:
            _check(option, value)  # the text as given ('' is not '.')
            value = option.convert(value)
        if value is not None:
            launch[option.name] = value
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
        _check(option, getattr(options, option.name))
    if options.imagenet_path is not None and options.dataset_path is not None:
        raise UsageError("--imagenet_path and --dataset_path both name the dataset; give one")


def _check(option: LaunchOption, value: object) -> None:
    if option.check is not None and value is not None and (why := option.check(value)):
        shown = repr(str(value)) if option.shown else value
        raise UsageError(f"{option.spellings[0]} {shown}: {why}")
