"""A Slurm job array of benchmark runs: one task per variation x scenario, each `mlperf-docker run` on its node.

A job is a folder under the shared results folder, `<results>/slurm-<UTC time>/`:

    job.sbatch   the batch script (rendered from job.sbatch.j2); `sbatch --parsable` submits it
    tasks.tsv    one line per array task: index, variation, scenario, image, output folder, device (tab-separated);
                 the script picks its line by SLURM_ARRAY_TASK_ID
    job.json     written once sbatch accepted the job: its id and when
    logs/        Slurm's output per task (%A_%a.out)
    <index>-<framework>-<device>-<model>-<scenario>/
                 the task's --output_dir: `run` makes its run folder inside, so no task writes over another

Slurm is driven through its commands (sbatch, squeue, sacct) in a subprocess, not a Python binding:
they are what every Slurm site has on its login nodes, their text interfaces (--parsable, -o formats)
are stable across Slurm versions, and pyslurm must be built against the site's exact libslurm.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import jinja2

from launcher.errors import MlperfDockerError, UsageError

SCRIPT = "job.sbatch"
TASKS = "tasks.tsv"
RECORD = "job.json"
LOGS = "logs"
PREFIX = "slurm-"


class SlurmError(MlperfDockerError):
    """Slurm refused or failed a request (sbatch, squeue)."""

    exit_code = 1


@dataclass(frozen=True)
class Task:
    index: int
    variation: str
    scenario: str
    image: str
    output_dir: Path
    device: str = "cpu"

    def line(self) -> str:
        return "\t".join([str(self.index), self.variation, self.scenario, self.image, str(self.output_dir),
                          self.device])

    @classmethod
    def parse(cls, line: str) -> "Task":
        index, variation, scenario, image, output, device = line.rstrip("\n").split("\t")
        return cls(int(index), variation, scenario, image, Path(output), device)


@dataclass(frozen=True)
class Resources:
    """What each array task asks Slurm for."""

    cpus_per_task: int = 1
    partition: str | None = None
    gres: str | None = None
    time: str | None = None
    max_parallel: int | None = None  # the array's %N throttle
    name: str = "mlperf-docker"

    def check(self) -> None:
        if self.cpus_per_task < 1:
            raise UsageError(f"--cpus-per-task {self.cpus_per_task}: expected a positive integer")
        if self.max_parallel is not None and self.max_parallel < 1:
            raise UsageError(f"--max-parallel {self.max_parallel}: expected a positive integer")
        for flag, value in (("--partition", self.partition), ("--gres", self.gres), ("--time", self.time),
                            ("--job-name", self.name)):
            if value is not None and (not value.strip() or any(c.isspace() for c in value)):
                raise UsageError(f"{flag} {value!r}: expected one word")

    def options(self) -> list[str]:
        return [f"--{name}={value}" for name, value in (("partition", self.partition), ("gres", self.gres),
                                                       ("time", self.time)) if value]


@dataclass(frozen=True)
class Job:
    folder: Path
    tasks: tuple[Task, ...]
    script: str
    job_id: str | None = None
    submitted: str | None = None

    @property
    def tasks_text(self) -> str:
        return "".join(task.line() + "\n" for task in self.tasks)


def new_job_folder(results: Path, now: dt.datetime | None = None) -> Path:
    """The job's folder under the shared results folder (not created yet)."""
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%d-%H%M%S")
    folder = results / f"{PREFIX}{stamp}"
    attempt = 1
    while folder.exists():
        attempt += 1
        folder = results / f"{PREFIX}{stamp}-{attempt}"
    return folder


def task_dir(folder: Path, index: int, label: str, scenario: str) -> Path:
    return folder / f"{index}-{label}-{scenario.lower()}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("launcher.slurm", "."), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True)
    env.filters["q"] = lambda value: shlex.quote(str(value))
    return env


def render_script(folder: Path, tasks: list[Task], resources: Resources, launcher: list[str],
                  environment: dict[str, str], run_args: list[str], docker: str, repository: str,
                  bundle: Path | None = None, registry: str | None = None, slurm_gpus: bool = True) -> str:
    """The batch script: Slurm's options, the task's line from tasks.tsv, the image, then `mlperf-docker run`
    (GPU tasks with the GPUs Slurm allocated, unless `slurm_gpus` is off: --gpus given by the user)."""
    return _environment().get_template("job.sbatch.j2").render(
        name=resources.name, tasks=tasks, max_parallel=resources.max_parallel, cpus_per_task=resources.cpus_per_task,
        logs=folder / LOGS, extra_options=resources.options(), tasks_file=folder / TASKS,
        environment=[(name, shlex.quote(value)) for name, value in environment.items()],
        launcher=shlex.join(launcher), run_args=shlex.join(run_args), docker=shlex.quote(docker),
        repository=repository, bundle=bundle, registry=registry, slurm_gpus=slurm_gpus)


def sbatch() -> str:
    """sbatch's path, or one line saying it is missing (checked before anything is written)."""
    found = shutil.which("sbatch")
    if found is None:
        raise UsageError("sbatch not found: run on a Slurm login node (Slurm's client commands on PATH)")
    return found


def write_and_submit(job: Job, env: dict[str, str] | None = None) -> Job:
    """Write the job folder, submit it with `sbatch --parsable`, record the job id. If sbatch refuses the
    job, the folder is removed again (nothing of it ran) and sbatch's message is the error."""
    command = sbatch()
    try:
        job.folder.mkdir(parents=True)
    except OSError as exc:
        raise UsageError(f"--results: cannot create {job.folder} ({exc.strerror})") from None
    try:
        (job.folder / LOGS).mkdir()
        (job.folder / TASKS).write_text(job.tasks_text)
        (job.folder / SCRIPT).write_text(job.script)
        (job.folder / SCRIPT).chmod(0o755)
        proc = subprocess.run([command, "--parsable", str(job.folder / SCRIPT)], capture_output=True, text=True,
                              env=env, timeout=120)
        if proc.returncode != 0:
            message = " ".join(proc.stderr.split()) or f"exit status {proc.returncode}"
            raise SlurmError(f"sbatch refused the job: {message}")
    except BaseException:
        shutil.rmtree(job.folder, ignore_errors=True)
        raise
    job_id = proc.stdout.strip().split(";")[0]  # --parsable: "jobid" or "jobid;cluster"
    submitted = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    job = Job(job.folder, job.tasks, job.script, job_id=job_id, submitted=submitted)
    tmp = job.folder / f".{RECORD}.partial"
    tmp.write_text(json.dumps({"job_id": job_id, "submitted": submitted}, indent=1) + "\n")  # the tasks: tasks.tsv
    os.replace(tmp, job.folder / RECORD)
    return job


def load(folder: Path) -> Job:
    """A submitted job's folder back: its tasks (tasks.tsv) and its id (job.json)."""
    try:
        record = json.loads((folder / RECORD).read_text())
        lines = (folder / TASKS).read_text().splitlines()
    except (OSError, ValueError) as exc:
        raise UsageError(f"{folder}: not a submitted mlperf-docker slurm job ({exc})") from None
    return Job(folder, tuple(Task.parse(line) for line in lines if line.strip()), script="",
               job_id=str(record.get("job_id")), submitted=record.get("submitted"))


def find(results: Path, job: str | None) -> Path:
    """The job folder for JOB (a folder, or a job id looked up under --results); the newest without JOB."""
    if job is not None and Path(job).is_dir():
        return Path(job)
    folders = sorted(p.parent for p in results.glob(f"{PREFIX}*/{RECORD}"))
    if job is None:
        if not folders:
            raise UsageError(f"no submitted slurm jobs under {results} (give JOB or --results)")
        return folders[-1]
    if not job.isdigit():
        raise UsageError(f"JOB {job!r}: expected a job id or a job folder")
    for folder in folders:
        try:
            if str(json.loads((folder / RECORD).read_text()).get("job_id")) == job:
                return folder
        except (OSError, ValueError):
            continue
    raise UsageError(f"job {job}: not submitted by mlperf-docker under {results} (give --results or its folder)")
