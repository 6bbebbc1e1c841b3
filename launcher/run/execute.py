"""Execute a RunPlan: build the image if missing, run the harness container, verify and mark the results.

The run's life (launcher/run/lifecycle.py): orphans of dead launchers are reaped, the disk is checked
before anything is written, the configuration is locked, the container runs wrapped so that SIGTERM
and SIGHUP act like Ctrl-C, and the folder is COMPLETE only once every test's results were verified
and checksummed. Anything else leaves it incomplete, with one error line and its own exit code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from launcher import console
from launcher.build.image import build_image
from launcher.engine.base import RunOutcome
from launcher.errors import DiskError, EngineError, Interrupted, OutOfMemory, RunError
from launcher.run import diskspace, hostcheck, owned
from launcher.run.devices import Passthrough, check_host
from launcher.run.hardening import hand_back, oom_message, prepare_run_dir
from launcher.run.lifecycle import (INCOMPLETE, RUN_RECORD, IncompleteRun, RunLock, atomic_write,  # noqa: F401
                                    clean_incomplete, is_complete, mark_incomplete, previous_run, write_complete)
from launcher.run.options import RunOptions
from launcher.run.plan import RunPlan, make_plan
from launcher.run.results import TestResult, collect, new_run_dir
from launcher.session import Session
from launcher.spec.variation import Variation


def dry_run(session: Session, variation: Variation, options: RunOptions) -> str:
    """The equivalent `docker run` line, without building, creating or starting anything."""
    return make_plan(session, variation, options).docker_run_line()


def _reap(session: Session) -> None:
    owned.reap(session.engine, session.say)


def execute(session: Session, plan: RunPlan) -> tuple[Path, list[TestResult]]:
    options = plan.options
    locks = session.cache / "locks"
    if options.clean:
        _reap(session)  # a dead launcher's container must not write into a folder --clean removes
        clean_incomplete(options.output_dir, session.say, locks)
    if not options.rerun and (earlier := previous_run(options.output_dir, plan.signature)):
        session.say(f"results for this configuration exist in {earlier}; not running again (use --rerun)")
        return earlier, collect(earlier)
    _check_servers(plan)
    if not options.clean:
        _reap(session)
    if plan.gpu != Passthrough():
        check_host(plan.variation.device, plan.gpu, session.engine.host_info(), runtime=session.engine.kind)
    dataset = session.spec.datasets[session.spec.models[plan.variation.model].dataset]
    diskspace.preflight(options.output_dir, diskspace.estimate(
        plan.variation.model, len(options.scenarios), options.mode, options.benchmark.count,
        dataset.samples if plan.user_dataset else None))
    with RunLock(locks, options.output_dir, plan.signature) as lock:
        if not session.engine.image_exists(plan.image):
            # TVM: a target this CPU cannot run is refused before it is built (the label is checked below).
            hostcheck.tvm_cpu({hostcheck.TVM_TARGET_LABEL: session.settings.compile_target(plan.variation.framework)})
            session.say(f"image {plan.image} is not built yet: building it first")
            build_image(session, plan.variation, standin=plan.image_standin)
        image = session.engine.image_info(plan.image)
        hostcheck.tvm_cpu(image.labels if image else {})  # TVM: the compiled target's CPU features
        if options.standin and plan.user_dataset is None:
            session.say("using the generated stand-in model and dataset: a smoke test, not a valid MLPerf result")
        with diskspace.write_guard(options.output_dir):
            run_dir = new_run_dir(options.output_dir, plan.label)
        lock.record(run_dir)
        with diskspace.write_guard(run_dir):
            atomic_write(run_dir / RUN_RECORD, json.dumps({
                "signature": plan.signature, "variation": str(plan.variation), "image": plan.image,
                "scenarios": list(options.scenarios), "mode": options.mode,
                # A generated model or dataset ran (the image's tag cannot tell: run --real mounts llama2's
                # fetched checkpoint into the stand-in's image).
                "standin": (options.standin and options.custom_model is None) or plan.user_dataset is None,
                # What a submission's README quotes: the command, the image it ran and the harness argv.
                "command": ["mlperf-docker", *sys.argv[1:]], "image_id": image.id if image else None,
                "harness_command": ["python", "-m", "mlperf_harness", *plan.argv],
                **plan.network_record,
            }, indent=1) + "\n")
            prepare_run_dir(run_dir, plan.user)
        session.say(f"results: {run_dir}")
        try:
            with owned.guarded_run(run_dir):
                outcome = session.engine.run(plan.container(run_dir), console.echo, timeout=options.timeout)
        except KeyboardInterrupt as exc:
            raise Interrupted(f"stopped by {owned.signal_name(exc)}; the run in {run_dir} is incomplete",
                              owned.exit_status(exc)) from None
        except (RunError, EngineError):
            mark_incomplete(run_dir, "the container failed to start")
            raise
        finally:
            if plan.hand_back:
                hand_back(run_dir, options.output_dir)
        _judge(run_dir, outcome, options)
    return run_dir, collect(run_dir)


def _check_servers(plan: RunPlan) -> None:
    """LoadGen over the network: every SUT server answers (from this host, whose network the LON
    container uses) before anything is written; else one line."""
    if plan.benchmark.network != "lon":
        return
    from mlperf_harness.contract import parse_servers
    from mlperf_harness.errors import HarnessError
    from mlperf_harness.network import get_json

    for url in parse_servers(plan.benchmark.sut_servers):
        try:
            get_json(url, "/name")
        except HarnessError as exc:
            raise RunError(f"{exc}; start it with `mlperf-docker serve`") from None


def _judge(run_dir: Path, outcome: RunOutcome, options: RunOptions) -> None:
    """Complete only if the container exited 0 and left every test whole; else one error, marked."""
    if outcome.oom_killed:
        mark_incomplete(run_dir, "out of memory")
        raise OutOfMemory(oom_message(options.memory))
    if outcome.timed_out:
        mark_incomplete(run_dir, "timed out")
        raise RunError(f"the benchmark ran past its {options.timeout:.0f} s limit and was stopped")
    if outcome.status != 0:
        if disk := diskspace.diagnose(run_dir):
            mark_incomplete(run_dir, disk)
            raise DiskError(disk)
        mark_incomplete(run_dir, f"harness exited with status {outcome.status}")
        error = RunError(f"the benchmark exited with status {outcome.status}; what it wrote is kept in {run_dir}")
        error.exit_code = outcome.status if 0 < outcome.status < 256 else RunError.exit_code  # the harness's status
        raise error
    try:
        write_complete(run_dir, options.scenarios, options.mode)
    except IncompleteRun as exc:
        if disk := diskspace.diagnose(run_dir):
            mark_incomplete(run_dir, disk)
            raise DiskError(disk) from None
        raise RunError(f"the benchmark finished but its results are incomplete ({exc.reason}); "
                       f"what it wrote is kept in {run_dir}") from None


def run(session: Session, variation: Variation, options: RunOptions) -> tuple[Path, list[TestResult]]:
    """Plan, then execute."""
    return execute(session, make_plan(session, variation, options))
