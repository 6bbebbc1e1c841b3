"""`serve`: a SUT server for LoadGen over the network; its options are `run`'s that apply to a
server (the same tables: launcher/cli/run.py) plus --host, --port and --name."""

from __future__ import annotations

import inspect
from typing import Optional

import typer
from mlperf_harness.contract import DEFAULT_SUT_PORT

from launcher.cli.common import handled, open_session, out
from launcher.cli.run import _parameters as run_parameters
from launcher.run.options import LAUNCH_OPTIONS, from_flags
from launcher.run.serve import DEFAULT_HOST
from launcher.spec.variation import parse_variation

_KW = inspect.Parameter.KEYWORD_ONLY
# `run`'s options that mean something to a SUT server (the LON side's `run` sets the rest).
SHARED = ("count", "max_batchsize", "threads", "dataset_args", "custom_model", "imagenet_path", "dataset_path",
          "standin", "user", "gpus", "memory", "cpus", "shm_size", "variation", "dry_run", "offline", "index_url",
          "ca_bundle", "registry_mirror", "spec_path", "cache", "base")
_OWN = [
    inspect.Parameter("host", _KW, annotation=str, default=typer.Option(
        DEFAULT_HOST, "--host", help="the host address the port is published on (0.0.0.0: every interface)")),
    inspect.Parameter("port", _KW, annotation=int, default=typer.Option(DEFAULT_SUT_PORT, "--port", help="the host port")),
    inspect.Parameter("name", _KW, annotation=Optional[str], default=typer.Option(
        None, "--name", help="the container's name (default: mlperf-docker-serve-PORT)")),
]


@handled
def serve(**flags) -> None:
    """Serve a variation's backend over HTTP for `run --network lon --sut_servers URL` (LoadGen over the network)."""
    from launcher.run import serve as serve_mod

    session = open_session(flags.pop("spec_path"), flags.pop("cache"), flags.pop("base"),
                           offline=flags.pop("offline"), index_url=flags.pop("index_url"),
                           ca_bundle=flags.pop("ca_bundle"), registry_mirror=flags.pop("registry_mirror"))
    variation = parse_variation(flags.pop("variation"), session.spec)
    dry_run = flags.pop("dry_run")
    host, port, name = flags.pop("host"), flags.pop("port"), flags.pop("name")
    for option in LAUNCH_OPTIONS:
        if option.type is bool and option.name in flags:
            flags[option.name] = (not option.default) if flags[option.name] else option.default
    serve_mod.check_address(host, port, name)
    plan = serve_mod.make_serve_plan(session, variation, from_flags(variation, flags), host, port, name)
    if dry_run:
        out.print(plan.docker_run_line(), markup=False)
        return
    serve_mod.serve(session, plan)


serve.__signature__ = inspect.Signature([p for p in run_parameters() if p.name in SHARED] + _OWN,
                                        return_annotation=None)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
