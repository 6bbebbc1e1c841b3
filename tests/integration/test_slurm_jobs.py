"""`slurm submit` / `slurm status` on a real one-node Slurm (munged, slurmctld, slurmd started here from
Debian's packages; tests/integration/slurm_cluster.py): a job array of two variations runs
`mlperf-docker run` in each task, both results land complete in their own folders, and `slurm status`
says so; a job whose tasks fail is reported as such.

Cost: the images are the ones the other integration tests build (the default resnet50 image of the
session's `built_image`, the bert-99 onnxruntime image of test_framework_images.py); each task is one
SingleStream accuracy run on 8 samples.
"""

from __future__ import annotations

import json
import re

import pytest

from integration_support import mlperf_docker
from launcher.run.lifecycle import is_complete
from mlperf_harness.contract import read_accuracy
from slurm_cluster import LocalSlurm

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

RESNET = "_onnxruntime,_cpu,_resnet50"
BERT = "_onnxruntime,_cpu,_bert-99"


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm")).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def slurm_env(cli_env, slurm):
    return dict(cli_env, SLURM_CONF=str(slurm.conf))


def _status(env, job_id, results, *extra):
    proc = mlperf_docker(env, "slurm", "status", job_id, "--results", str(results), "--json", *extra, timeout=900)
    return proc, [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def test_a_job_array_of_two_variations_completes_with_complete_results(built_image, slurm_env, slurm, tmp_path):
    results = tmp_path / "shared"
    proc = mlperf_docker(slurm_env, "slurm", "submit", "-v", RESNET, "-v", BERT, "--scenario", "SingleStream",
                         "--mode", "accuracy", "--results", str(results), "--", "--count", "8")
    assert proc.returncode == 0, proc.stderr + slurm.logs_tail()
    job_id = re.search(r"submitted job (\d+): 2 task", proc.stdout).group(1)

    proc, tasks = _status(slurm_env, job_id, results, "--wait", "--timeout", "840")
    [folder] = results.glob("slurm-*")
    logs = "".join(p.read_text(errors="replace")[-2000:] for p in sorted((folder / "logs").glob("*.out")))
    assert proc.returncode == 0, proc.stdout + proc.stderr + logs + slurm.logs_tail()
    assert "2 of 2 task(s) complete" in proc.stderr
    assert [(t["variation"], t["scenario"], t["state"], t["results"]) for t in tasks] == [
        (RESNET, "SingleStream", "COMPLETED", "complete"), (BERT, "SingleStream", "COMPLETED", "complete")]
    # each task's results in its own folder under the shared one, verified by the launcher's own check
    run_dirs = [results.joinpath(t["run_dir"]) for t in tasks]
    assert len({d.parent for d in run_dirs}) == 2 and all(d.parent.parent == folder for d in run_dirs)
    assert all(is_complete(d) for d in run_dirs)
    [resnet_acc] = run_dirs[0].glob("*/resnet50/SingleStream/accuracy/accuracy.txt")
    assert read_accuracy(resnet_acc) == pytest.approx(75.0)  # the stand-in's known top-1 on its first 8 images
    assert list(run_dirs[1].glob("*/bert-99/SingleStream/accuracy/accuracy.txt"))
    # the task ran with its CPU limit: the run record keeps the command the task ran
    record = json.loads((run_dirs[0] / "run.json").read_text())
    assert record["command"][-2:] == ["--cpus", "1"]


def test_failed_tasks_are_reported_failed_and_incomplete(slurm_env, tmp_path):
    results = tmp_path / "shared"
    proc = mlperf_docker(slurm_env, "slurm", "submit", "-v", RESNET, "--results", str(results),
                         "--launcher", "false")  # every task's command fails at once
    assert proc.returncode == 0, proc.stderr
    job_id = re.search(r"submitted job (\d+)", proc.stdout).group(1)
    proc, tasks = _status(slurm_env, job_id, results, "--wait", "--timeout", "120")
    assert proc.returncode == 1 and "0 of 1 task(s) complete" in proc.stderr
    assert [(t["state"], t["results"]) for t in tasks] == [("FAILED", "none")]
