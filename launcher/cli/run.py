"""`run`: its options are generated from two tables, the contract's benchmark SETTINGS and the launcher's
LAUNCH_OPTIONS (launcher/run/options.py); this module only turns them into typer parameters and prints."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from launcher.cli.common import (BaseOption, CaBundleOption, CacheOption, IndexUrlOption, MirrorOption, OfflineOption,
                                 RuntimeOption, SpecOption, TvmTargetOption, VARIATION_HELP, check_tvm_flag, handled,
                                 open_session, out)
from launcher.run.options import BENCHMARK_FLAGS, BENCHMARK_SPELLINGS, LAUNCH_OPTIONS, from_flags
from launcher.run.results import metric
from launcher.spec.variation import parse_variation

_KW = inspect.Parameter.KEYWORD_ONLY

# Options of `run` that are not run settings: which image, how to show it, and the session's settings.
_COMMAND_PARAMETERS = [
    inspect.Parameter("variation", _KW, annotation=Optional[str],
                      default=typer.Option(None, "--variation", "-v", help=VARIATION_HELP)),
    inspect.Parameter("dry_run", _KW, annotation=bool,
                      default=typer.Option(False, "--dry-run", help="print the equivalent docker run (podman run, apptainer exec) command and exit")),
    inspect.Parameter("runtime", _KW, annotation=Optional[str], default=RuntimeOption),
    inspect.Parameter("offline", _KW, annotation=bool, default=OfflineOption),
    inspect.Parameter("index_url", _KW, annotation=Optional[str], default=IndexUrlOption),
    inspect.Parameter("ca_bundle", _KW, annotation=Optional[Path], default=CaBundleOption),
    inspect.Parameter("registry_mirror", _KW, annotation=Optional[str], default=MirrorOption),
    inspect.Parameter("tvm_target", _KW, annotation=Optional[str], default=TvmTargetOption),
    inspect.Parameter("spec_path", _KW, annotation=Optional[Path], default=SpecOption),
    inspect.Parameter("cache", _KW, annotation=Optional[Path], default=CacheOption),
    inspect.Parameter("base", _KW, annotation=Optional[list[str]], default=BaseOption),
]


def _parameters() -> list[inspect.Parameter]:
    params = []
    for setting in BENCHMARK_FLAGS:
        params.append(inspect.Parameter(setting.name, _KW, annotation=Optional[setting.type], default=typer.Option(
            None, *BENCHMARK_SPELLINGS[setting.name], help=setting.help, metavar=setting.metavar)))
    for option in LAUNCH_OPTIONS:
        if option.type is bool:  # a flag: giving it flips the option's default
            default = typer.Option(False, *option.spellings, help=option.help)
            annotation = bool
        else:
            default = typer.Option(None, *option.spellings, help=option.help + (
                f" (default: {option.default})" if option.default is not None else ""))
            annotation = Optional[option.type]
        params.append(inspect.Parameter(option.name, _KW, annotation=annotation, default=default))
    return params + _COMMAND_PARAMETERS


def plan_from_flags(flags: dict):
    """`run`'s parameters (as typer passes them, less dry_run) into its session and checked plan; also what
    `slurm submit` checks each task with."""
    from launcher.run import plan as plan_mod

    session = open_session(flags.pop("spec_path"), flags.pop("cache"), flags.pop("base"),
                           offline=flags.pop("offline"), index_url=flags.pop("index_url"),
                           ca_bundle=flags.pop("ca_bundle"), registry_mirror=flags.pop("registry_mirror"),
                           runtime=flags.pop("runtime"), tvm_target=(tvm_target := flags.pop("tvm_target", None)))
    variation = parse_variation(flags.pop("variation"), session.spec)
    check_tvm_flag(tvm_target, session, variation.framework)
    for option in LAUNCH_OPTIONS:
        if option.type is bool:
            flags[option.name] = (not option.default) if flags[option.name] else option.default
    return session, plan_mod.make_plan(session, variation, from_flags(variation, flags))


@handled
def run(**flags) -> None:
    """Run the benchmark for a variation; results land in a new folder under --output_dir."""
    from launcher.run import execute

    dry_run = flags.pop("dry_run")
    session, plan = plan_from_flags(flags)
    if dry_run:
        out.print(plan.docker_run_line(), markup=False)
        return
    run_dir, results = execute.execute(session, plan)
    table = Table("scenario", "mode", "performance", "result", "accuracy %", "folder")
    for r in results:
        table.add_row(r.scenario, r.mode, metric(r), r.validity or "-",
                      f"{r.accuracy:.3f}" if r.accuracy is not None else "-",
                      str(r.path.relative_to(run_dir)))
    out.print(table)
    out.print(f"results: {run_dir}", markup=False)


run.__signature__ = inspect.Signature(_parameters(), return_annotation=None)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
