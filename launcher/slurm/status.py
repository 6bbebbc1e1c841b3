"""Where a submitted job array stands: each task's Slurm state and whether its results are complete.

The state comes from squeue (`-t all`: pending, running and recently ended tasks the controller still
holds), then sacct for tasks squeue no longer knows (sites with accounting). The results' state is the
launcher's own: a task's output folder holds a COMPLETE run folder (launcher/run/lifecycle.is_complete)
or it does not, whatever Slurm says.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from launcher.run.lifecycle import is_complete, run_folders
from launcher.slurm.job import Job, SlurmError

ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED", "SIGNALING",
          "STAGE_OUT", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "STOPPED"}


@dataclass(frozen=True)
class TaskStatus:
    index: int
    variation: str
    scenario: str
    state: str  # Slurm's word (COMPLETED, RUNNING, FAILED, ...) or UNKNOWN
    results: str  # complete | incomplete | none
    run_dir: Path | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def done(self) -> bool:
        return self.results == "complete"


def _run(argv: list[str], env: dict[str, str] | None) -> subprocess.CompletedProcess | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _index(task_id: str, job_id: str) -> int | None:
    """`1234_5` (an array task) -> 5; anything else (steps `1234_5.batch`, other jobs) -> None."""
    head, _, index = task_id.partition("_")
    return int(index) if head == job_id and index.isdigit() else None


def slurm_states(job_id: str, env: dict[str, str] | None = None) -> dict[int, str]:
    """Array index -> Slurm state, from squeue, then sacct for the indices squeue did not list."""
    states: dict[int, str] = {}
    proc = _run(["squeue", "-j", job_id, "-r", "-t", "all", "-h", "-o", "%i|%T"], env)
    squeue_ok = proc is not None and proc.returncode == 0
    if squeue_ok:
        for line in proc.stdout.splitlines():
            task_id, _, state = line.partition("|")
            if (index := _index(task_id.strip(), job_id)) is not None:
                states[index] = state.strip()
    proc = _run(["sacct", "-j", job_id, "-X", "-n", "-P", "-o", "JobID,State"], env)
    if proc is not None and proc.returncode == 0:
        for line in proc.stdout.splitlines():
            task_id, _, state = line.partition("|")
            if (index := _index(task_id.strip(), job_id)) is not None:
                states.setdefault(index, state.split()[0] if state.strip() else "UNKNOWN")
    elif not squeue_ok:
        why = (proc.stderr.strip().splitlines() or ["not found"])[-1] if proc is not None else "not found"
        raise SlurmError(f"cannot ask Slurm about job {job_id}: squeue and sacct failed ({why})")
    return states


def results_state(output_dir: Path) -> tuple[str, Path | None]:
    """complete (with the complete run folder), incomplete (the newest run folder) or none."""
    folders = run_folders(output_dir) if output_dir.is_dir() else []
    complete = [f for f in folders if is_complete(f)]
    if complete:
        return "complete", complete[-1]
    return ("incomplete", folders[-1]) if folders else ("none", None)


def status(job: Job, env: dict[str, str] | None = None) -> list[TaskStatus]:
    states = slurm_states(job.job_id, env)
    found = []
    for task in job.tasks:
        results, run_dir = results_state(task.output_dir)
        found.append(TaskStatus(task.index, task.variation, task.scenario, states.get(task.index, "UNKNOWN"),
                                results, run_dir))
    return found


def wait(job: Job, timeout: float, poll: float = 5.0, env: dict[str, str] | None = None,
         clock: Callable[[], float] = time.monotonic) -> list[TaskStatus]:
    """Poll until no task is pending or running (or `timeout` seconds pass); the last status."""
    deadline = clock() + timeout
    while True:
        tasks = status(job, env)
        if not any(t.active for t in tasks) or clock() >= deadline:
            return tasks
        time.sleep(poll)
