"""Run a benchmark: pick or build the image, start the harness container, leave results on the host."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from pathlib import Path

from launcher.build.image import build_image, image_tag
from launcher.run.container import ContainerSpec, Mount
from launcher.run.devices import Passthrough, check_host, passthrough
from launcher.errors import RunError, UsageError
from launcher.run.options import RunOptions, resolve_batch_size, resolve_scenarios, validate  # noqa: F401 (re-exported)
from launcher.run.results import TestResult, collect, new_run_dir, run_name
from launcher.session_tmp import Session
from launcher.spec.variation import Variation, require_supported

RESULTS_MOUNT = "/results"
MODEL_DIR = "/opt/mlperf/model"
CUSTOM_MODEL_DIR = "/opt/mlperf/custom-model"
DATASET_DIR = "/opt/mlperf/dataset"
USER_DATASET_MOUNT = "/opt/mlperf/user-dataset"
RUN_RECORD = "run.json"
INCOMPLETE = "INCOMPLETE"


def system_name(session: Session, variation: Variation, hw_name: str | None) -> str:
    hw = hw_name or socket.gethostname() or "default"
    hw = re.sub(r"[^A-Za-z0-9_.-]+", "_", hw)
    version = session.spec.framework_version(variation.framework, variation.device)
    return f"{hw}-reference-{variation.device}-{variation.framework}-v{version}"


def user_dataset(session: Session, variation: Variation, options: RunOptions) -> Path | None:
    """The user's dataset folder to mount (--imagenet_path or --dataset_path), checked against the model."""
    name = session.spec.models[variation.model].dataset
    if options.imagenet_path is not None and name != "imagenet":
        raise UsageError(f"--imagenet_path applies to ImageNet models, not {variation.model} ({name}); use --dataset_path")
    folder = options.imagenet_path or options.dataset_path
    if folder is not None and name is not None:
        index = session.spec.datasets[name].index_file
        if not (folder / index).is_file():
            raise UsageError(f"--dataset_path {folder}: expected a {name} folder holding {index}")
    return folder


def _dataset_path(session: Session, variation: Variation, options: RunOptions) -> str:
    if user_dataset(session, variation, options) is not None:
        return USER_DATASET_MOUNT
    if not options.standin:
        flag = "--imagenet_path" if session.spec.models[variation.model].dataset == "imagenet" else "--dataset_path"
        raise UsageError(f"the real {variation.model} image carries no dataset (not redistributable): "
                         f"give your copy with {flag} DIR")
    return DATASET_DIR


def harness_command(session: Session, variation: Variation, options: RunOptions) -> list[str]:
    backend = session.spec.backend(variation.model, variation.framework)
    model_path = (f"{CUSTOM_MODEL_DIR}/{options.custom_model.name}" if options.custom_model
                  else f"{MODEL_DIR}/{backend.file_name}")
    args = [
        "--model", variation.model,
        "--backend", variation.framework,
        "--device", variation.device,
        "--model-path", model_path,
        "--dataset-path", _dataset_path(session, variation, options),
        "--output-dir", RESULTS_MOUNT,
        "--system", system_name(session, variation, options.hw_name),
        "--scenario", ",".join(options.scenarios),
        "--mode", options.mode,
        "--run-style", options.run_style,
    ]
    flags = (
        ("--count", options.count), ("--test-query-count", options.test_query_count),
        ("--max-batchsize", options.max_batchsize), ("--threads", options.threads),
        ("--target-qps", options.target_qps), ("--offline-target-qps", options.offline_target_qps),
        ("--server-target-qps", options.server_target_qps), ("--target-latency-ms", options.target_latency),
        ("--singlestream-target-latency-ms", options.singlestream_target_latency),
        ("--multistream-target-latency-ms", options.multistream_target_latency),
        ("--dataset-args", options.dataset_args),
    )
    for flag, value in flags:
        if value is not None:
            args += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return args


def default_user() -> str:
    return f"{os.getuid()}:{os.getgid()}"


def container_spec(session: Session, variation: Variation, options: RunOptions, run_dir: Path,
                   gpu: Passthrough | None = None) -> ContainerSpec:
    tag = image_tag(session, variation.image_key(options.standin))
    gpu = gpu or passthrough(variation.device, options.gpus)
    mounts = [Mount(str(run_dir.resolve()), RESULTS_MOUNT)]
    if options.custom_model:
        mounts.append(Mount(str(options.custom_model.resolve().parent), CUSTOM_MODEL_DIR, read_only=True))
    if (folder := user_dataset(session, variation, options)) is not None:
        mounts.append(Mount(str(folder.resolve()), USER_DATASET_MOUNT, read_only=True))
    return ContainerSpec(
        image=tag,
        command=harness_command(session, variation, options),
        mounts=mounts,
        user=options.user or default_user(),
        network="none",
        environment={"HOME": "/tmp", **gpu.environment, **options.extra_env},
        gpus=gpu.gpus,
        devices=list(gpu.devices),
        group_add=list(gpu.group_add),
        security_opt=list(gpu.security_opt),
        ipc_mode=gpu.ipc_mode,
    )


def _label(variation: Variation) -> str:
    return f"{variation.framework}-{variation.device}-{variation.model}"


def dry_run(session: Session, variation: Variation, options: RunOptions) -> str:
    """The equivalent `docker run` line, without building, creating or starting anything."""
    require_supported(variation, session.spec)
    validate(options)
    run_dir = (options.output_dir / run_name(_label(variation))).resolve()
    return container_spec(session, variation, options, run_dir).to_cli(docker=Path(session.engine.cli).name)


def previous_run(output_dir: Path, signature: str) -> Path | None:
    """A complete earlier run of the same benchmark in output_dir (the seed skips those without --rerun)."""
    if not output_dir.is_dir():
        return None
    for record in sorted(output_dir.glob(f"*/{RUN_RECORD}"), reverse=True):
        run_dir = record.parent
        try:
            same = json.loads(record.read_text()).get("signature") == signature
        except (OSError, ValueError):
            continue
        if same and not (run_dir / INCOMPLETE).exists():
            return run_dir
    return None


def clean_incomplete(output_dir: Path, say) -> None:
    """--clean: remove earlier runs marked INCOMPLETE; complete results are never deleted."""
    for marker in sorted(output_dir.glob(f"*/{INCOMPLETE}")) if output_dir.is_dir() else []:
        shutil.rmtree(marker.parent, ignore_errors=True)
        say(f"removed the incomplete run {marker.parent}")


def run(session: Session, variation: Variation, options: RunOptions) -> tuple[Path, list[TestResult]]:
    require_supported(variation, session.spec)
    validate(options)
    harness_command(session, variation, options)  # dataset/model choices fail here, before any work
    signature = options.signature(variation)
    if options.clean:
        clean_incomplete(options.output_dir, session.say)
    if not options.rerun and (earlier := previous_run(options.output_dir, signature)):
        session.say(f"results for this configuration exist in {earlier}; not running again (use --rerun)")
        return earlier, collect(earlier)
    gpu = passthrough(variation.device, options.gpus)
    if gpu != Passthrough():
        check_host(variation.device, gpu, session.engine.client.info())
    tag = image_tag(session, variation.image_key(options.standin))
    if not session.engine.image_exists(tag):
        session.say(f"image {tag} is not built yet: building it first")
        build_image(session, variation, standin=options.standin)
    if options.standin and user_dataset(session, variation, options) is None:
        session.say("using the generated stand-in model and dataset: a smoke test, not a valid MLPerf result")
    run_dir = new_run_dir(options.output_dir, _label(variation))
    (run_dir / RUN_RECORD).write_text(json.dumps({
        "signature": signature, "variation": str(variation), "image": tag,
        "scenarios": list(options.scenarios), "mode": options.mode,
    }, indent=1) + "\n")
    user = options.user or default_user()
    uid, _, gid = user.partition(":")
    if os.geteuid() == 0 and uid != str(os.getuid()):
        os.chown(run_dir, int(uid), int(gid or uid))
    spec = container_spec(session, variation, options, run_dir, gpu)
    session.say(f"results: {run_dir}")
    try:
        status = session.engine.run(spec, lambda line: print(line, flush=True), timeout=options.timeout)
    except KeyboardInterrupt:
        _mark_incomplete(run_dir, "interrupted\n")
        raise
    except RunError:
        _mark_incomplete(run_dir, "the container failed or timed out\n")
        raise
    if status != 0:
        _mark_incomplete(run_dir, f"harness exited with status {status}\n")
        error = RunError(f"the benchmark exited with status {status}; what it wrote is kept in {run_dir}")
        error.exit_code = status if 0 < status < 256 else RunError.exit_code  # exit with the harness's status
        raise error
    return run_dir, collect(run_dir)


def _mark_incomplete(run_dir: Path, why: str) -> None:
    try:
        (run_dir / INCOMPLETE).write_text(why)
    except OSError:
        pass
