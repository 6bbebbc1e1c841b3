"""Plan a run: everything `run` will do, computed once into a frozen RunPlan, before anything happens.

`run --dry-run` prints the plan's `docker run` line; `run` executes the plan (launcher/run/execute.py).
The harness command is the contract's BenchmarkSettings.to_argv(); the in-image paths are the contract's.
"""

from __future__ import annotations

import os
import re
import socket
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

from mlperf_harness.contract import (CUSTOM_MODEL_DIR, DATASET_DIR, MODEL_DIR, RESULTS_MOUNT, USER_DATASET_MOUNT,
                                     BenchmarkSettings)

from launcher.build.image import require_real_artifact
from launcher.engine.base import ContainerEngine
from launcher.errors import UsageError
from launcher.run import hostcheck, owned
from launcher.run.container import ContainerSpec, Mount
from launcher.run.devices import Passthrough, passthrough
from launcher.run.hardening import Hardening, container_user, rootless_user
from launcher.run.options import RunOptions, validate
from launcher.run.results import run_name
from launcher.session import Session
from launcher.spec.model import Spec
from launcher.spec.variation import Variation, require_supported


@dataclass(frozen=True)
class RunPlan:
    """One run, decided: the image, the harness argv, the mounts, the container options and the bookkeeping."""

    variation: Variation
    options: RunOptions
    image: str
    benchmark: BenchmarkSettings  # complete: what the harness in the container receives
    mounts: tuple[Mount, ...]  # besides the results folder
    user: str
    environment: dict[str, str]
    gpu: Passthrough
    signature: str
    label: str  # the run folder's name after its time stamp
    user_dataset: Path | None
    docker: str = "docker"
    hardening: Hardening = Hardening()
    userns: str | None = None  # podman's --userns (keep-id for a rootless podman)
    engine: ContainerEngine | None = field(default=None, compare=False, repr=False)  # renders the command line
    hand_back: bool = False  # a root launcher runs the container as someone else: chown the results back
    image_standin: bool = True  # the image is the stand-in's (also for a real run that mounts its checkpoint)

    @property
    def argv(self) -> list[str]:
        return self.benchmark.to_argv()

    @property
    def network(self) -> str:
        """The container's network: none, but for LoadGen over the network (LON) the host's, so the
        LON side reaches SUT servers wherever they listen (also on the host's loopback)."""
        return "host" if self.benchmark.network == "lon" else "none"

    @property
    def network_record(self) -> dict:
        """run.json's record of LoadGen over the network (what a submission marks as network mode)."""
        if self.benchmark.network != "lon":
            return {}
        from mlperf_harness.contract import parse_servers

        return {"network": {"mode": "lon", "sut_servers": parse_servers(self.benchmark.sut_servers)}}

    def container(self, run_dir: Path | None, run_id: str | None = None) -> ContainerSpec:
        """The container for a run folder (mounted at the contract's RESULTS_MOUNT; a SUT server
        has none): named, labelled, auto-removed and hardened; GPU runs add their vendor's options."""
        gpu, hardening = self.gpu, self.hardening
        run_id = run_id or owned.new_run_id(run_dir or Path("serve"))
        results = [Mount(str(run_dir.resolve()), RESULTS_MOUNT)] if run_dir is not None else []
        return ContainerSpec(
            image=self.image,
            command=self.argv,
            mounts=[*results, *self.mounts],
            user=self.user,
            userns=self.userns,
            network=self.network,
            environment=dict(self.environment),
            gpus=gpu.gpus,
            devices=list(gpu.devices),
            group_add=list(gpu.group_add),
            security_opt=[*gpu.security_opt, *hardening.security_opt],
            ipc_mode=gpu.ipc_mode,
            shm_size=self.options.shm_size,
            mem_limit=self.options.memory,
            cpus=self.options.cpus,
            name=owned.container_name(run_id),
            labels=owned.labels(run_id, run_dir.resolve() if run_dir is not None else None),
            auto_remove=True,
            cap_drop=list(hardening.cap_drop),
            read_only=hardening.read_only,
            tmpfs=dict(hardening.tmpfs),
            pids_limit=hardening.pids_limit,
        )

    def docker_run_line(self) -> str:
        """The equivalent `docker run` line (podman run, apptainer exec: the engine's) for a run folder
        named as the run would name it now."""
        run_dir = (self.options.output_dir / run_name(self.label)).resolve()
        spec = self.container(run_dir)
        return shlex.join(self.engine.command(spec)) if self.engine else spec.to_cli(docker=self.docker)


def system_name(spec: Spec, variation: Variation, hw_name: str | None, network: bool = False) -> str:
    """`<hw>-reference-<device>-<framework>-v<version>`; LoadGen over the network is another system
    (LoadGen node + SUT servers): `<hw>-network-reference-...`."""
    hw = hw_name or socket.gethostname() or "default"
    hw = re.sub(r"[^A-Za-z0-9_.-]+", "_", hw) + ("-network" if network else "")
    version = spec.framework_version(variation.framework, variation.device)
    return f"{hw}-reference-{variation.device}-{variation.framework}-v{version}"


def user_dataset(spec: Spec, variation: Variation, options: RunOptions) -> Path | None:
    """The user's dataset folder to mount (--imagenet_path or --dataset_path), checked against the model."""
    name = spec.models[variation.model].dataset
    if options.imagenet_path is not None and name != "imagenet":
        raise UsageError(f"--imagenet_path applies to ImageNet models, not {variation.model} ({name}); use --dataset_path")
    folder = options.imagenet_path or options.dataset_path
    if folder is not None and name is not None:
        index = spec.datasets[name].index_file
        if not (folder / index).is_file():
            raise UsageError(f"--dataset_path {folder}: expected a {name} folder holding {index}")
    return folder


def _check_audit_tests(spec: Spec, variation: Variation, options: RunOptions) -> None:
    """--compliance: only the audit tests MLPerf defines for the model (the harness checks it too)."""
    from mlperf_harness.compliance import check_tests
    from mlperf_harness.contract import parse_compliance
    from mlperf_harness.errors import HarnessError

    try:
        check_tests(parse_compliance(options.benchmark.compliance), variation.model,
                    spec.models[variation.model].loadgen_key)
    except HarnessError as exc:
        raise UsageError(str(exc)) from None


def _check_standin_scoring(variation: Variation, options: RunOptions) -> None:
    """--model DIR in accuracy mode on a stand-in image whose scorer uses the stand-in's own models."""
    from mlperf_harness.models import get_model

    reason = get_model(variation.model).code.standin_scorer
    if reason and options.custom_model is not None and options.standin and "accuracy" in options.benchmark.modes:
        raise UsageError(f"--model {options.custom_model} in accuracy mode: {reason}; "
                         "run it with --mode performance (no image bakes the real encoders yet)")


def _generative(model: str) -> bool:
    """A generative model (its harness code runs a Hugging Face checkpoint folder)."""
    from mlperf_harness.models import get_model

    return get_model(model).code.folder_model


def _fetched_checkpoint(session: Session, variation: Variation, hf) -> Path:
    """The verified folder `fetch` made for the backend's Hugging Face repo; refused when not fetched."""
    from launcher.airgap import hub
    from launcher.airgap.fetch import fetch_command
    from launcher.airgap.lockfile import LockFile

    path = hub.fetched(session.cache, LockFile.beside(session.spec), hf)
    if path is None:
        token = " --hf-token-file FILE" if hf.gated else ""
        raise UsageError(f"the real {variation.model} checkpoint ({hf.repo}) is not fetched into {session.cache}: run "
                         f"`{fetch_command(variation)}{token}` first, or pass your copy with --model DIR")
    return path


def make_plan(session: Session, variation: Variation, options: RunOptions, dev_root: Path = Path("/dev"),
              serving: bool = False) -> RunPlan:
    """Check everything that can be checked without the engine, once, and decide the run (or, with
    ``serving``, the SUT server of `serve`)."""
    spec = session.spec
    if (options.benchmark.network == "sut") != serving:
        raise UsageError("--network sut: start a SUT server with `mlperf-docker serve -v VAR --port N`"
                         if not serving else "serve runs the harness with --network sut only")
    require_supported(variation, spec)
    validate(options)
    hostcheck.dataset_args(variation.model, options.benchmark.dataset_args)
    allowed = spec.models[variation.model].scenarios
    refused = [s for s in options.benchmark.scenarios if allowed and s not in allowed]
    if refused:
        raise UsageError(f"{variation.model} runs {' and '.join(allowed)} only (as the reference); "
                         f"not {', '.join(refused)}")
    folder = user_dataset(spec, variation, options)
    if folder is None and not options.standin:
        flag = "--imagenet_path" if spec.models[variation.model].dataset == "imagenet" else "--dataset_path"
        raise UsageError(f"the real {variation.model} image carries no dataset (not redistributable): "
                         f"give your copy with {flag} DIR")
    _check_audit_tests(spec, variation, options)
    _check_standin_scoring(variation, options)
    backend = spec.backend(variation.model, variation.framework, variation.precision)
    mounts = []
    generative = _generative(variation.model)
    # A Hugging Face checkpoint (llama2) is never baked: --real runs the model's image with the folder
    # `fetch` verified mounted read-only (or the user's --model DIR).
    baked = options.standin or backend.hf_repo is None
    if not options.standin and baked:  # a real image to build: as `build --real` refuses it, so does --dry-run
        require_real_artifact(spec, variation.model, variation.framework, variation.precision)
    if (model := hostcheck.model_file(options.custom_model, CUSTOM_MODEL_DIR, generative)) is not None:
        mounts.append(Mount(str(model.source), model.target, read_only=True))  # the file, never its folder
        model_path = model.target
    elif not baked:
        model_path = f"{CUSTOM_MODEL_DIR}/{backend.file_name}"
        mounts.append(Mount(str(_fetched_checkpoint(session, variation, backend.hf_repo)), model_path, read_only=True))
    else:
        model_path = f"{MODEL_DIR}/{backend.file_name}"
    if folder is not None:
        mounts.append(Mount(str(folder.resolve()), USER_DATASET_MOUNT, read_only=True))
    benchmark = replace(
        options.benchmark, model=variation.model, backend=variation.framework, device=variation.device,
        precision=variation.precision, beam_size=variation.beam_size,
        model_path=model_path, dataset_path=USER_DATASET_MOUNT if folder is not None else DATASET_DIR,
        output_dir=RESULTS_MOUNT,
        system=system_name(spec, variation, options.hw_name, network=options.benchmark.network == "lon"))
    engine = session.engine
    # A rootless engine (podman run by a user, a rootless docker daemon) maps UIDs: see rootless_user.
    rootless = os.geteuid() != 0 and engine.rootless
    gpu = passthrough(variation.device, options.gpus, dev_root=dev_root, runtime=engine.kind, rootless=rootless)
    user, hand_back = container_user(options.user, options.output_dir)
    user, userns = rootless_user(user, options.user, engine.kind, rootless)
    return RunPlan(
        variation=variation,
        options=options,
        image=session.settings.image_tag(variation.image_key(options.standin or not baked)),
        image_standin=options.standin or not baked,
        benchmark=benchmark,
        mounts=tuple(mounts),
        user=user,
        environment={"HOME": "/tmp", **gpu.environment, **options.extra_env},
        gpu=gpu,
        signature=options.signature(variation),
        label=f"{variation.framework}-{variation.device}-{variation.model}",
        user_dataset=folder,
        docker=Path(engine.cli).name,
        hand_back=hand_back,
        userns=userns,
        engine=engine,
    )
