"""Execute a RunPlan: build the image if missing, run the harness container, collect the results."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from launcher import console
from launcher.build.image import build_image
from launcher.errors import RunError
from launcher.run.devices import Passthrough, check_host
from launcher.run.options import RunOptions
from launcher.run.plan import RunPlan, make_plan
from launcher.run.results import TestResult, collect, new_run_dir
from launcher.session import Session
from launcher.spec.variation import Variation

RUN_RECORD = "run.json"
INCOMPLETE = "INCOMPLETE"


def dry_run(session: Session, variation: Variation, options: RunOptions) -> str:
    """The equivalent `docker run` line, without building, creating or starting anything."""
    return make_plan(session, variation, options).docker_run_line()


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


def execute(session: Session, plan: RunPlan) -> tuple[Path, list[TestResult]]:
    options = plan.options
    if options.clean:
        clean_incomplete(options.output_dir, session.say)
    if not options.rerun and (earlier := previous_run(options.output_dir, plan.signature)):
        session.say(f"results for this configuration exist in {earlier}; not running again (use --rerun)")
        return earlier, collect(earlier)
    if plan.gpu != Passthrough():
        check_host(plan.variation.device, plan.gpu, session.engine.host_info())
    if not session.engine.image_exists(plan.image):
        session.say(f"image {plan.image} is not built yet: building it first")
        build_image(session, plan.variation, standin=options.standin)
    if options.standin and plan.user_dataset is None:
        session.say("using the generated stand-in model and dataset: a smoke test, not a valid MLPerf result")
    run_dir = new_run_dir(options.output_dir, plan.label)
    (run_dir / RUN_RECORD).write_text(json.dumps({
        "signature": plan.signature, "variation": str(plan.variation), "image": plan.image,
        "scenarios": list(options.scenarios), "mode": options.mode,
    }, indent=1) + "\n")
    uid, _, gid = plan.user.partition(":")
    if os.geteuid() == 0 and uid != str(os.getuid()):
        os.chown(run_dir, int(uid), int(gid or uid))
    session.say(f"results: {run_dir}")
    try:
        status = session.engine.run(plan.container(run_dir), console.echo, timeout=options.timeout)
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


def run(session: Session, variation: Variation, options: RunOptions) -> tuple[Path, list[TestResult]]:
    """Plan, then execute."""
    return execute(session, make_plan(session, variation, options))


def _mark_incomplete(run_dir: Path, why: str) -> None:
    try:
        (run_dir / INCOMPLETE).write_text(why)
    except OSError:
        pass
