"""`serve`: a SUT server for LoadGen over the network (LON), from the same RunPlan machinery as `run`.

The harness runs with `--network sut` (mlperf_harness.network_sut: the backend behind `POST /predict`,
`GET /name`, `GET /stats`). It is the only container with a network: docker's default bridge, with
exactly one port published, bound to the address the user gives (default 127.0.0.1, this host only).
It is named, labelled (a dead launcher's server is reaped like a run's), auto-removed and hardened
like every benchmark container; it writes no results (the LON side's `run --network lon` does).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from mlperf_harness.contract import DEFAULT_SUT_PORT

from launcher import console
from launcher.errors import OutOfMemory, RunError, UsageError
from launcher.run import owned
from launcher.run.container import ContainerSpec, Port
from launcher.run.hardening import oom_message
from launcher.run.options import RunOptions
from launcher.session import Session
from launcher.spec.variation import Variation

if TYPE_CHECKING:
    from launcher.run.plan import RunPlan

DEFAULT_HOST = "127.0.0.1"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True)
class ServePlan:
    run: RunPlan  # the harness argv (--network sut), image, mounts, user, hardening
    host: str
    port: int
    name: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def container(self) -> ContainerSpec:
        return replace(self.run.container(None), network="bridge", name=self.name,
                       ports=[Port(self.host, self.port, DEFAULT_SUT_PORT)])

    def docker_run_line(self) -> str:
        return self.container().to_cli(docker=self.run.docker)


def check_address(host: str, port: int, name: str | None) -> None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(f"--host {host!r}: expected an IP address to bind (127.0.0.1: this host only; "
                         "0.0.0.0: every interface)") from None
    if not 1 <= port <= 65535:
        raise UsageError(f"--port {port}: expected a TCP port, 1 to 65535")
    if name is not None and not _NAME.fullmatch(name):
        raise UsageError(f"--name {name!r}: expected a container name (letters, digits, _ . -)")


def make_serve_plan(session: Session, variation: Variation, options: RunOptions, host: str = DEFAULT_HOST,
                    port: int = DEFAULT_SUT_PORT, name: str | None = None) -> ServePlan:
    """Check everything, then decide the SUT server's container."""
    from launcher.run.plan import make_plan

    check_address(host, port, name)
    options = replace(options, benchmark=replace(options.benchmark, network="sut"))
    run = make_plan(session, variation, options, serving=True)
    return ServePlan(run=run, host=host, port=port, name=name or f"{owned.PREFIX}serve-{port}")


def serve(session: Session, plan: ServePlan) -> None:
    """Build the image if missing, then serve until the server stops or Ctrl-C/SIGTERM/SIGHUP
    (a normal stop: the container is stopped and removed)."""
    from launcher.build.image import build_image

    owned.reap(session.engine, session.say)
    run = plan.run
    if not session.engine.image_exists(run.image):
        session.say(f"image {run.image} is not built yet: building it first")
        build_image(session, run.variation, standin=run.image_standin)
    session.say(f"SUT server {plan.name} for {run.variation}: {plan.url} (POST /predict, GET /name, "
                "GET /stats); stop it with Ctrl-C")
    with owned.signals_as_interrupts():
        try:
            outcome = session.engine.run(plan.container(), console.echo, timeout=None)
        except KeyboardInterrupt as exc:
            session.say(f"stopped the SUT server ({owned.signal_name(exc)})")
            return
    if outcome.oom_killed:
        raise OutOfMemory(oom_message(run.options.memory))
    if outcome.status != 0:
        error = RunError(f"the SUT server exited with status {outcome.status}")
        error.exit_code = outcome.status if 0 < outcome.status < 256 else RunError.exit_code
        raise error
