"""The launcher <-> harness contract: one definition of every benchmark setting,
the in-image paths, the results tree and the LoadGen log readers.

Standard library only, importable on Python 3.10: the launcher imports it on the
host (and derives its CLI from SETTINGS), the harness inside the image. Adding
a benchmark flag is one new ``Setting`` here (plus its field on BenchmarkSettings).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field, make_dataclass
from typing import List, Optional, Sequence, Tuple

from mlperf_harness.network_settings import (  # noqa: F401  (re-exported)
    DEFAULT_SUT_PORT, NETWORK_MODES, NETWORK_SCENARIOS, check_network, parse_servers)
from mlperf_harness.loadgen_logs import (  # noqa: F401  (re-exported: one import for callers)
    ACCURACY_LOG, ACCURACY_TXT, DETAIL, MEASUREMENTS, SUMMARY, TEST_MODES, TRACE, USER_CONF,
    Summary, TestFolder, detail_values, find_test_dirs, parse_summary, read_accuracy,
    read_detail, read_summary, scenario_dir, test_dir)

# In-image paths.
RESULTS_MOUNT = "/results"
MODEL_DIR = "/opt/mlperf/model"
CUSTOM_MODEL_DIR = "/opt/mlperf/custom-model"
DATASET_DIR = "/opt/mlperf/dataset"
USER_DATASET_MOUNT = "/opt/mlperf/user-dataset"
HARNESS_DIR = "/opt/mlperf/harness"
COMPILED_DIR = "/opt/mlperf/compiled"  # a model compiled at image build time (TVM: backends/tvm_compile.py)
IN_IMAGE_SPEC = "/opt/mlperf/harness/images.yaml"

SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream")
MODES = ("accuracy", "performance", "both")
RUN_STYLES = ("test", "valid")
DEVICES = ("cpu", "cuda", "rocm")
PRECISIONS = ("fp32", "float16", "bfloat16", "int8")  # images.yaml's precision names
BACKENDS = ("onnxruntime", "pytorch", "tf", "tflite", "ncnn", "deepsparse", "tvm-onnx", "tvm-pytorch",
            "tvm-tflite", "ray")
BACKEND_ALIASES = {"tensorflow": "tf"}
QPS_SCENARIOS = ("Offline", "Server")
PREFETCH_MODES = ("auto", "on", "off")  # --prefetch: gather the next batch ahead
# MLPerf's audit (compliance) tests the harness knows: TEST01 accuracy in performance mode,
# TEST04 repeated samples (no caching), TEST06 LLM output consistency.
COMPLIANCE_TESTS = ("TEST01", "TEST04", "TEST06")
LATENCY_SCENARIOS = ("SingleStream", "MultiStream", "Server")  # Server: the latency bound
DEFAULT_TEST_QUERY_COUNT = 500
POSITIVE = math.ulp(0.0)  # the smallest positive float: a float minimum meaning "> 0"

_SCENARIO_SPELLINGS = {s.lower(): s for s in SCENARIOS}


class SettingsError(ValueError):
    """A bad or contradictory setting; the message is one line."""


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    help: str
    default: object = None  # None = unset
    aliases: Tuple[str, ...] = ()
    minimum: Optional[float] = None  # inclusive
    maximum: Optional[float] = None  # inclusive
    choices: Tuple[str, ...] = ()
    scenarios: Tuple[str, ...] = ()  # the scenarios the flag applies to; empty = all
    required: bool = False  # the harness needs it (the launcher always passes it)
    metavar: Optional[str] = None
    # The launcher computes it (from the variation, its mounts, --hw_name): not one of its
    # run flags. The run flags are RUN_FLAGS, the other settings.
    computed: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name

    @property
    def spellings(self) -> Tuple[str, ...]:
        return (self.flag, *self.aliases)

    def problem(self, value) -> Optional[str]:
        """Why ``value`` is out of bounds or not a choice (phrased after the value), or None."""
        if self.choices and value not in self.choices:
            return f"is not one of {', '.join(self.choices)}"
        if self.type is float and (math.isnan(value) or math.isinf(value)):
            return "must be a positive number" if self.minimum == POSITIVE else "must be finite"
        if self.minimum is not None and value < self.minimum:
            if self.minimum == POSITIVE:
                return "must be a positive number"
            return f"must be at least {self.minimum:g}"
        if self.maximum is not None and value > self.maximum:
            return f"is out of range (at most {self.maximum:g})"
        return None

    def convert(self, text: str):
        """Command-line text -> a checked value (argparse type; errors are argparse's)."""
        if self.type is int:
            try:
                value = int(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        elif self.type is float:
            try:
                value = float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        else:
            value = text
        problem = None if self.choices else self.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(f"{text} {problem}")
        return value


_QPS = dict(minimum=POSITIVE, maximum=1e9)
_LATENCY = dict(minimum=POSITIVE, maximum=1e7)  # ms; 1e7 is about 2.8 hours

SETTINGS: Tuple[Setting, ...] = (
    Setting("model", str, "MLPerf model name (results folder name)", default="resnet50",
            computed=True),
    Setting("backend", str, "framework (tensorflow = tf)", default="onnxruntime",
            choices=BACKENDS, computed=True),
    Setting("device", str, "device", default="cpu", choices=DEVICES, computed=True),
    Setting("precision", str, "numeric precision the backend runs the model in", default="fp32",
            choices=PRECISIONS, computed=True),
    Setting("model_path", str, "model file", aliases=("--model-path",), required=True,
            computed=True),
    Setting("dataset_path", str, "dataset folder", aliases=("--dataset-path",), required=True,
            computed=True),
    Setting("output_dir", str, "results root (a fresh folder)", aliases=("--output-dir",),
            required=True, computed=True),
    Setting("system", str, "system name (results folder)", default="default_system",
            computed=True),
    Setting("beam_size", int, "beams for generative models that search (gptj; the `_beam_size.N` "
            "variation; default: the reference's)", aliases=("--beam-size",), minimum=1, maximum=64,
            computed=True),
    Setting("scenario", str, "Offline, Server, SingleStream, MultiStream (case-insensitive); "
            "repeat or comma-separate to run several (default: Offline)", default="Offline",
            metavar="SCENARIO"),
    Setting("mode", str, "both = accuracy then performance (default: accuracy)",
            default="accuracy", choices=MODES),
    Setting("count", int, "dataset samples to use (default: all)", minimum=1,
            maximum=2 ** 31 - 1),
    Setting("test_query_count", int,
            f"queries per test-style run (default: {DEFAULT_TEST_QUERY_COUNT})",
            aliases=("--test-query-count",), minimum=1, maximum=10 ** 9),
    Setting("max_batchsize", int, "largest batch handed to the framework "
            "(Offline, Server, MultiStream)", default=32, aliases=("--max-batchsize",),
            minimum=1, maximum=65536),
    Setting("threads", int, "framework intra-op threads", aliases=("--num_threads",),
            minimum=1, maximum=4096),
    Setting("target_qps", float, "Offline/Server target_qps", aliases=("--target-qps",),
            scenarios=QPS_SCENARIOS, **_QPS),
    Setting("offline_target_qps", float, "Offline target_qps (overrides --target_qps)",
            aliases=("--offline-target-qps",), scenarios=("Offline",), **_QPS),
    Setting("server_target_qps", float, "Server target_qps (overrides --target_qps)",
            aliases=("--server-target-qps",), scenarios=("Server",), **_QPS),
    Setting("target_latency", float, "target_latency in ms: SingleStream/MultiStream expected "
            "latency, Server latency bound", aliases=("--target-latency-ms",),
            scenarios=LATENCY_SCENARIOS, **_LATENCY),
    Setting("singlestream_target_latency", float, "SingleStream target_latency in ms "
            "(overrides --target_latency)", aliases=("--singlestream-target-latency-ms",),
            scenarios=("SingleStream",), **_LATENCY),
    Setting("multistream_target_latency", float, "MultiStream target_latency in ms "
            "(overrides --target_latency)", aliases=("--multistream-target-latency-ms",),
            scenarios=("MultiStream",), **_LATENCY),
    Setting("run_style", str, "test: short runs of --test_query_count queries; valid: MLPerf "
            "minimums (default: test)", default="test", aliases=("--run-style",),
            choices=RUN_STYLES),
    Setting("dataset_args", str, "options for the dataset (key=value,...)",
            aliases=("--dataset-args",), metavar="KEY=VALUE,..."),
    Setting("compliance", str, "MLPerf audit tests to run after each scenario's accuracy and "
            "performance runs, then verify against them: TEST01,TEST04 (TEST01 needs --mode "
            "both, TEST04 a performance run)", metavar="TEST01,TEST04"),
    Setting("batch_timeout_ms", float, "Server batching: the longest a free worker waits for "
            "a batch to fill, in ms (0: run whatever is waiting; default: a twentieth of the "
            "latency bound)", aliases=("--batch-timeout-ms",), minimum=0.0, maximum=1e7,
            scenarios=("Server",)),
    Setting("prefetch", str, "Offline/Server: a thread gathers the next batch while the framework runs "
            "the current one (auto: on for a CPU run whose --threads leaves a CPU free)",
            default="auto", choices=PREFETCH_MODES, scenarios=QPS_SCENARIOS),
    Setting("network", str, "LoadGen over the network: sut = serve the backend over HTTP (no "
            "LoadGen), lon = LoadGen and the QSL here, queries sent to --sut_servers",
            choices=NETWORK_MODES),
    Setting("sut_servers", str, "--network lon: the SUT servers' URLs (http://HOST:PORT), "
            "comma-separated; queries go round-robin", aliases=("--sut-servers", "--sut_server"),
            metavar="URL[,URL...]"),
    Setting("port", int, "--network sut: the port the SUT server listens on",
            default=DEFAULT_SUT_PORT, minimum=1, maximum=65535, computed=True),
    Setting("find_peak", bool, "Server: search the highest target_qps whose run is VALID "
            "(short runs from the Offline throughput); writes peak.conf next to the results",
            default=False, aliases=("--find-peak",), scenarios=("Server",)),
)

BY_NAME = {s.name: s for s in SETTINGS}
RUN_FLAGS = tuple(s for s in SETTINGS if not s.computed)  # what a user of the launcher sets


def normalize_scenario(text: str) -> str:
    """'Offline', 'offline', 'single-stream', 'SINGLE_STREAM' -> the canonical name."""
    key = text.strip().lower().replace("-", "").replace("_", "")
    try:
        return _SCENARIO_SPELLINGS[key]
    except KeyError:
        raise SettingsError(
            f"unknown scenario {text.strip()!r}; choose from {', '.join(SCENARIOS)}") from None


def parse_scenarios(values: Sequence[str]) -> List[str]:
    """Repeated and/or comma-separated scenario names -> ordered unique canonical names."""
    result: List[str] = []
    for value in values:
        for part in value.split(","):
            if part.strip() and normalize_scenario(part) not in result:
                result.append(normalize_scenario(part))
    if not result:
        raise SettingsError("no scenario given")
    return result


def parse_key_values(text: Optional[str], flag: str = "--dataset_args") -> List[Tuple[str, str]]:
    """'k=v,k=v' -> [(k, v), ...] (stripped; empty items skipped; a key given twice is an error)."""
    pairs: List[Tuple[str, str]] = []
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise SettingsError(f"{flag} {text!r}: expected key=value[,key=value], "
                                f"got {item.strip()!r}")
        if any(key == k for k, _ in pairs):
            raise SettingsError(f"{flag}: {key} given twice")
        if not value:
            raise SettingsError(f"{flag}: {key} needs a value")
        pairs.append((key, value))
    return pairs


def parse_compliance(text: Optional[str]) -> List[str]:
    """'TEST01,test04' -> ['TEST01', 'TEST04'] (ordered, checked); None or '' -> []."""
    tests: List[str] = []
    for part in (text or "").split(","):
        name = part.strip().upper()
        if not name:
            continue
        if name not in COMPLIANCE_TESTS:
            raise SettingsError(f"--compliance {part.strip()!r}: expected "
                                f"{', '.join(COMPLIANCE_TESTS)}")
        if name in tests:
            raise SettingsError(f"--compliance: {name} given twice")
        tests.append(name)
    return tests


def _shown(value) -> str:
    return f"{value:g}" if isinstance(value, float) else repr(value) if isinstance(value, str) \
        else str(value)


class _BenchmarkSettingsBase:
    """BenchmarkSettings' behaviour; its fields (one per Setting, None = unset) are generated from SETTINGS
    below, so a setting is defined once."""

    def get(self, name: str):
        """The value of setting ``name``, or its default when unset."""
        value = getattr(self, name)
        return BY_NAME[name].default if value is None else value

    @property
    def scenarios(self) -> List[str]:
        return parse_scenarios([self.get("scenario")])

    @property
    def modes(self) -> List[str]:
        mode = self.get("mode")
        return ["accuracy", "performance"] if mode == "both" else [mode]

    def targets(self, scenario: str) -> Tuple[Optional[float], Optional[float]]:
        """(target_qps, target_latency ms) for ``scenario``: its own flag, else the generic one."""
        own_qps = {"Offline": self.offline_target_qps, "Server": self.server_target_qps}
        own_latency = {"SingleStream": self.singlestream_target_latency,
                       "MultiStream": self.multistream_target_latency}
        qps, latency = own_qps.get(scenario), own_latency.get(scenario)
        return (self.target_qps if qps is None else qps,
                self.target_latency if latency is None else latency)

    def to_argv(self) -> List[str]:
        """The set values as canonical flags (floats with ``:g``)."""
        argv: List[str] = []
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            if setting.type is bool:
                argv += [setting.flag] if value else []
            elif value is not None:
                argv += [setting.flag, f"{value:g}" if isinstance(value, float) else str(value)]
        return argv

    @classmethod
    def from_argv(cls, argv: Optional[Sequence[str]] = None, prog: str = "python -m mlperf_harness",
                  version: Optional[str] = None) -> "BenchmarkSettings":
        """Parse and validate; a usage error is one line on stderr and exit status 2."""
        parser = build_parser(prog, version)
        args = parser.parse_args(None if argv is None else [str(a) for a in argv])
        values = {}
        for setting in SETTINGS:
            value = getattr(args, setting.name)
            if setting.name == "scenario" and value is not None:
                value = ",".join(value)
            values[setting.name] = setting.default if value is None else value
        settings = cls(**values)
        try:
            settings.validate()
        except SettingsError as exc:
            parser.error(str(exc))
        return settings

    def validate(self) -> None:
        """Every check that needs no files; raises SettingsError (one line)."""
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            if value is None:
                continue
            if setting.type is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, setting.type) or isinstance(value, bool) != (setting.type is bool):
                raise SettingsError(f"{setting.flag} {value!r}: expected {setting.type.__name__}")
            problem = setting.problem(value)
            if problem:
                if setting.choices:
                    raise SettingsError(f"{setting.flag} {value!r}: expected one of "
                                        f"{', '.join(setting.choices)}")
                if problem == "must be a positive number":
                    problem = "expected a positive number"
                raise SettingsError(f"{setting.flag} {_shown(value)}: {problem}")
        scenarios = self.scenarios
        for setting in SETTINGS:
            value = getattr(self, setting.name)  # (a default applies everywhere: auto, off)
            if setting.scenarios and value not in (None, False, setting.default) \
                    and not set(setting.scenarios) & set(scenarios):
                raise SettingsError(f"{setting.flag} applies to {' or '.join(setting.scenarios)}, "
                                    f"not to the scenarios run ({', '.join(scenarios)})")
        if self.test_query_count is not None and self.get("run_style") == "valid":
            raise SettingsError("--test_query_count applies to --run-style test only: it "
                                "contradicts --run_style valid (a valid run uses MLPerf's "
                                "query counts)")
        if self.find_peak and "performance" not in self.modes:
            raise SettingsError("--find_peak searches with performance runs: it needs --mode "
                                "performance or both")
        parse_key_values(self.dataset_args)
        try:
            check_network(self.network, self.sut_servers, self.scenarios, self.compliance)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        tests = parse_compliance(self.compliance)
        modes = self.modes
        if "TEST01" in tests and modes != ["accuracy", "performance"]:
            raise SettingsError("--compliance TEST01 needs --mode both: it compares the "
                                "accuracy samples logged in performance mode with the accuracy "
                                "run, and its performance with the performance run")
        if tests and "performance" not in modes:
            raise SettingsError(f"--compliance {','.join(tests)} needs a performance run "
                                "(--mode performance or both) to verify against")


BenchmarkSettings = make_dataclass(
    "BenchmarkSettings", [(s.name, Optional[s.type], field(default=None)) for s in SETTINGS],
    bases=(_BenchmarkSettingsBase,), frozen=True)
BenchmarkSettings.__module__ = __name__


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(prog: str = "python -m mlperf_harness",
                 version: Optional[str] = None) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="Run MLPerf inference tests (LoadGen) and write an "
                                            "MLPerf results tree.")
    if version:
        parser.add_argument("--version", action="version", version=version)
    for s in SETTINGS:
        kwargs = dict(dest=s.name, help=s.help, default=None, metavar=s.metavar)
        if s.name == "scenario":
            kwargs["action"] = "append"
        elif s.type is bool:
            kwargs.update(action="store_true", metavar=None)
            del kwargs["metavar"]
        elif s.name == "backend":
            kwargs.update(type=lambda name: BACKEND_ALIASES.get(name.lower(), name.lower()), choices=s.choices)
        elif s.choices:
            kwargs["choices"] = s.choices
        else:
            kwargs["type"] = s.convert
        if s.required:
            kwargs["required"] = True
        parser.add_argument(*s.spellings, **kwargs)
    return parser

