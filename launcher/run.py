"""Run a benchmark: pick or build the image, start the harness container, leave results on the host."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

from .build import build_image, image_tag
from .container import ContainerSpec, Mount
from .devices import Passthrough, check_host, passthrough
from .errors import RunError, UsageError
from .results import TestResult, collect, new_run_dir, run_name
from .session import Session
from .variation import SCENARIOS, Variation, require_supported

RESULTS_MOUNT = "/results"
MODES = ("accuracy", "performance", "both")


@dataclass(frozen=True)
class RunOptions:
    scenarios: tuple[str, ...] = ()
    mode: str = "accuracy"
    count: int | None = None
    test_query_count: int | None = None
    max_batchsize: int | None = None
    threads: int | None = None
    target_qps: float | None = None
    target_latency: float | None = None
    run_style: str = "test"
    hw_name: str | None = None
    output_dir: Path = Path("mlperf-results")
    user: str | None = None
    timeout: float | None = 3600.0
    standin: bool = True
    gpus: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)


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


def system_name(session: Session, variation: Variation, hw_name: str | None) -> str:
    hw = hw_name or socket.gethostname() or "default"
    hw = re.sub(r"[^A-Za-z0-9_.-]+", "_", hw)
    version = session.spec.framework_version(variation.framework, variation.device)
    return f"{hw}-reference-{variation.device}-{variation.framework}-v{version}"


def harness_command(session: Session, variation: Variation, options: RunOptions) -> list[str]:
    backend = session.spec.backend(variation.model, variation.framework)
    args = [
        "--model", variation.model,
        "--backend", variation.framework,
        "--device", variation.device,
        "--model-path", f"/opt/mlperf/model/{backend.artifact.name}",
        "--dataset-path", "/opt/mlperf/dataset",
        "--output-dir", RESULTS_MOUNT,
        "--system", system_name(session, variation, options.hw_name),
        "--scenario", ",".join(options.scenarios),
        "--mode", options.mode,
        "--run-style", options.run_style,
    ]
    for flag, value in (("--count", options.count), ("--test-query-count", options.test_query_count),
                        ("--max-batchsize", options.max_batchsize), ("--threads", options.threads),
                        ("--target-qps", options.target_qps), ("--target-latency-ms", options.target_latency)):
        if value is not None:
            args += [flag, str(value)]
    return args


def default_user() -> str:
    return f"{os.getuid()}:{os.getgid()}"


def container_spec(session: Session, variation: Variation, options: RunOptions, run_dir: Path,
                   gpu: Passthrough | None = None) -> ContainerSpec:
    tag = image_tag(session, variation.image_key(options.standin))
    gpu = gpu or passthrough(variation.device, options.gpus)
    return ContainerSpec(
        image=tag,
        command=harness_command(session, variation, options),
        mounts=[Mount(str(run_dir.resolve()), RESULTS_MOUNT)],
        user=options.user or default_user(),
        network="none",
        environment={"HOME": "/tmp", **gpu.environment, **options.extra_env},
        gpus=gpu.gpus,
        devices=list(gpu.devices),
        group_add=list(gpu.group_add),
        security_opt=list(gpu.security_opt),
        ipc_mode=gpu.ipc_mode,
    )


def validate(options: RunOptions) -> None:
    if options.mode not in MODES:
        raise UsageError(f"--mode {options.mode!r}: expected one of {', '.join(MODES)}")
    for name in ("count", "test_query_count", "threads"):
        value = getattr(options, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name} {value}: expected a positive integer")
    for name in ("target_qps", "target_latency"):
        value = getattr(options, name)
        if value is not None and value <= 0:
            raise UsageError(f"--{name} {value}: expected a positive number")
    if options.run_style not in ("test", "valid"):
        raise UsageError(f"--run_style {options.run_style!r}: expected test or valid")
    if options.user and not re.fullmatch(r"\d+(:\d+)?", options.user):
        raise UsageError(f"--user {options.user!r}: expected UID or UID:GID (numbers)")


def _label(variation: Variation) -> str:
    return f"{variation.framework}-{variation.device}-{variation.model}"


def dry_run(session: Session, variation: Variation, options: RunOptions) -> str:
    """The equivalent `docker run` line, without building, creating or starting anything."""
    require_supported(variation, session.spec)
    validate(options)
    run_dir = (options.output_dir / run_name(_label(variation))).resolve()
    return container_spec(session, variation, options, run_dir).to_cli(docker=Path(session.engine.cli).name)


def run(session: Session, variation: Variation, options: RunOptions) -> tuple[Path, list[TestResult]]:
    require_supported(variation, session.spec)
    validate(options)
    gpu = passthrough(variation.device, options.gpus)
    if gpu != Passthrough():
        check_host(variation.device, gpu, session.engine.client.info())
    key = variation.image_key(options.standin)
    tag = image_tag(session, key)
    if not session.engine.image_exists(tag):
        session.say(f"image {tag} is not built yet: building it first")
        build_image(session, variation, standin=options.standin)
    if options.standin:
        session.say("using the generated stand-in model and dataset: a smoke test, not a valid MLPerf result")
    run_dir = new_run_dir(options.output_dir, _label(variation))
    user = options.user or default_user()
    uid, _, gid = user.partition(":")
    if os.geteuid() == 0 and uid != str(os.getuid()):
        os.chown(run_dir, int(uid), int(gid or uid))
    spec = container_spec(session, variation, options, run_dir, gpu)
    session.say(f"results: {run_dir}")
    try:
        status = session.engine.run(spec, lambda line: print(line, flush=True), timeout=options.timeout)
    except KeyboardInterrupt:
        (run_dir / "INCOMPLETE").write_text("interrupted\n")
        raise
    if status != 0:
        _mark_incomplete(run_dir, f"harness exited with status {status}\n")
        raise RunError(f"the benchmark exited with status {status}; what it wrote is kept in {run_dir}")
    return run_dir, collect(run_dir)


def _mark_incomplete(run_dir: Path, why: str) -> None:
    try:
        (run_dir / "INCOMPLETE").write_text(why)
    except OSError:
        pass
