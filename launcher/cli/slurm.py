"""`slurm submit` and `slurm status`: a job array of `mlperf-docker run`s on a Slurm cluster (launcher/slurm/)."""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from launcher.cli.common import VARIATIONS_HELP, err, handled, out
from launcher.errors import UsageError
from launcher.slurm import job as job_mod

# `run` flags each task gets from `slurm submit` itself (not allowed after --).
_OWNED = {"variation": "-v/--variation", "scenario": "--scenario", "output_dir": "--results", "mode": "--mode",
          "dry_run": "--dry-run (of submit)"}


def _run_command():
    import launcher.cli.run as run_cli

    app = typer.Typer()
    app.command("run")(run_cli.run)
    return typer.main.get_command(app)


def _parse_run(argv: list[str]) -> typer.Context:
    try:
        return _run_command().make_context("run", list(argv), resilient_parsing=False)
    except typer.TyperException as exc:  # typer's click: an unknown flag, a bad value
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        raise UsageError(f"run flags: {message}") from None


def _given(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def _default_launcher() -> tuple[list[str], dict[str, str]]:
    """This launcher, as the tasks run it: this Python and the source folders of launcher and mlperf_harness
    (on shared storage on a cluster, as the results are)."""
    import launcher
    import mlperf_harness

    roots = dict.fromkeys(str(Path(m.__file__).resolve().parents[1]) for m in (launcher, mlperf_harness))
    return [sys.executable, "-m", "launcher.cli"], {"PYTHONPATH": os.pathsep.join(roots)}


def _scenarios(values: list[str] | None) -> list[str | None]:
    items = [s.strip() for value in values or [] for s in value.split(",") if s.strip()]
    return list(dict.fromkeys(items)) or [None]


@handled
def submit(
    variation: Optional[list[str]] = typer.Option(None, "--variation", "-v", help=VARIATIONS_HELP),
    scenario: Optional[list[str]] = typer.Option(None, "--scenario", help="scenario(s), repeatable or comma-separated "
                                                 "(one task each; default: run's default)"),
    mode: Optional[str] = typer.Option(None, "--mode", help="accuracy|performance|both (default: accuracy)"),
    results: Path = typer.Option(Path("mlperf-results"), "--results",
                                 help="shared folder every node can write: the job's folder is made inside"),
    partition: Optional[str] = typer.Option(None, "--partition", help="Slurm partition"),
    gres: Optional[str] = typer.Option(None, "--gres", help="Slurm generic resources per task, e.g. gpu:1"),
    time_limit: Optional[str] = typer.Option(None, "--time", help="Slurm time limit per task, e.g. 01:00:00"),
    cpus_per_task: int = typer.Option(1, "--cpus-per-task", help="CPUs per task (also the container's --cpus, "
                                      "unless given after --)"),
    max_parallel: Optional[int] = typer.Option(None, "--max-parallel", help="at most N tasks at a time (array %N)"),
    job_name: str = typer.Option("mlperf-docker", "--job-name", help="Slurm job name"),
    bundle: Optional[Path] = typer.Option(None, "--bundle", help="image bundle on shared storage "
                                          "(`mlperf-docker bundle save`), loaded on nodes that lack the image"),
    registry: Optional[str] = typer.Option(None, "--registry", help="pull missing images as REGISTRY/<image>"),
    launcher: Optional[str] = typer.Option(None, "--launcher", help="the mlperf-docker command on the nodes "
                                           "(default: this Python with this checkout's code)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the batch script and its tasks; submit nothing"),
    run_args: Optional[list[str]] = typer.Argument(None, help="further `run` flags, after --, e.g. -- --count 10"),
) -> None:
    """Submit one Slurm job array: one task per variation x scenario, each `mlperf-docker run` on its node."""
    from launcher.airgap.bundle import read_manifest
    from launcher.cli.run import plan_from_flags
    from launcher.spec.variation import ImageKey

    run_args = list(run_args or [])
    resources = job_mod.Resources(cpus_per_task, partition, gres, time_limit, max_parallel, job_name)
    resources.check()
    if bundle is not None and registry is not None:
        raise UsageError("--bundle and --registry both say where images come from; give one")
    if registry is not None and (not registry.strip() or any(c.isspace() for c in registry)):
        raise UsageError(f"--registry {registry!r}: expected a registry prefix, e.g. registry.lab:5000/mlperf")
    given = _parse_run(run_args)
    for name, flag in _OWNED.items():
        if _given(given, name):
            raise UsageError(f"give {flag} to `slurm submit`, not after --")
    checked = [*run_args, *(["--mode", mode] if mode else [])]
    # dockerd starts the container outside Slurm's cgroup: limit it to the task's CPUs (checked on the node,
    # against the node's CPUs, by its own `run`)
    static = checked + ([] if _given(given, "cpus") else ["--cpus", str(cpus_per_task)])
    if not dry_run:
        job_mod.sbatch()
    results = results.resolve()
    folder = job_mod.new_job_folder(results)
    tasks, session, docker = [], None, "docker"
    for text in variation or [None]:
        text = ",".join(item.strip() for item in text.split(",")) if text is not None else None  # one tsv field
        for wanted in _scenarios(scenario):
            argv = [*(["--variation", text] if text else []), *(["--scenario", wanted] if wanted else []),
                    "--output_dir", str(folder / "task"), *checked]
            params = dict(_parse_run(argv).params)
            params.pop("dry_run")
            session, plan = plan_from_flags(params)  # the checks `run` makes, on the task's own flags
            for resolved in plan.options.scenarios:
                index = len(tasks)
                tasks.append(job_mod.Task(index, text or str(plan.variation), resolved, plan.image,
                                          job_mod.task_dir(folder, index, plan.label, resolved),
                                          plan.variation.device))
            docker = plan.docker
    if bundle is not None:
        bundle = bundle.resolve()
        if not bundle.is_file():
            raise UsageError(f"--bundle {bundle}: no such file")
        held = {ImageKey.of(image["key"]).tag(session.repository) for image in read_manifest(bundle).get("images", [])}
        if missing := sorted({t.image for t in tasks} - held):
            raise UsageError(f"--bundle {bundle} lacks {', '.join(missing)}")
    try:
        command, environment = (shlex.split(launcher), {}) if launcher is not None else _default_launcher()
    except ValueError as exc:  # unbalanced quotes
        raise UsageError(f"--launcher {launcher!r}: {exc}") from None
    if not command:
        raise UsageError(f"--launcher {launcher!r}: expected a command, e.g. mlperf-docker")
    environment["MLPERF_DOCKER_REPOSITORY"] = session.repository
    script = job_mod.render_script(folder, tasks, resources, command, environment, static, docker,
                                   session.repository, bundle=bundle, registry=registry,
                                   slurm_gpus=not _given(given, "gpus"))
    job = job_mod.Job(folder, tuple(tasks), script)
    if dry_run:
        out.print(script.rstrip("\n"), markup=False)
        for task in tasks:
            err.print(f"task {task.index}: {task.variation} {task.scenario} ({task.image}) -> {task.output_dir}",
                      markup=False)
        return
    job = job_mod.write_and_submit(job)
    out.print(f"submitted job {job.job_id}: {len(tasks)} task(s), folder {folder}", markup=False)
    out.print(f"status: mlperf-docker slurm status {job.job_id} --results {results}", markup=False)


@handled
def status(
    job: Optional[str] = typer.Argument(None, help="job id or job folder (default: the newest job under --results)"),
    results: Path = typer.Option(Path("mlperf-results"), "--results", help="the shared folder given to submit"),
    wait: bool = typer.Option(False, "--wait", help="wait until no task is pending or running; exit 1 unless "
                              "every task's results are complete"),
    timeout: float = typer.Option(24 * 3600.0, "--timeout", help="with --wait: give up after this many seconds"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per task"),
) -> None:
    """Each task of a submitted job: its Slurm state and whether its results are complete."""
    from launcher.slurm import status as status_mod

    if wait and not (math.isfinite(timeout) and timeout > 0):
        raise UsageError(f"--timeout {timeout}: expected a finite number of seconds > 0")
    loaded = job_mod.load(job_mod.find(results, job))
    tasks = status_mod.wait(loaded, timeout) if wait else status_mod.status(loaded)
    if as_json:
        for t in tasks:
            out.print(json.dumps({"index": t.index, "variation": t.variation, "scenario": t.scenario,
                                  "state": t.state, "results": t.results,
                                  "run_dir": str(t.run_dir) if t.run_dir else None}), markup=False)
    else:
        table = Table("task", "variation", "scenario", "slurm", "results", "folder")
        for t in tasks:
            table.add_row(str(t.index), t.variation, t.scenario, t.state, t.results, str(t.run_dir or "-"))
        out.print(f"job {loaded.job_id} ({loaded.folder})", markup=False)
        out.print(table)
    done = sum(t.done for t in tasks)
    err.print(f"{done} of {len(tasks)} task(s) complete", markup=False)
    if wait and done < len(tasks):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    slurm_app = typer.Typer(no_args_is_help=True, help="Run batches of benchmarks as Slurm job arrays.")
    slurm_app.command("submit", context_settings={"allow_interspersed_args": False})(submit)
    slurm_app.command("status")(status)
    app.add_typer(slurm_app, name="slurm")
