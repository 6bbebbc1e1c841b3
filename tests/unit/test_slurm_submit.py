"""`slurm submit` / `slurm status` without a cluster: the script, the task list, the checks made before
anything is written, and the reading of squeue/sacct (fake commands on PATH). The real job array runs
in tests/integration/test_slurm_jobs.py."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from launcher.run import lifecycle as lc
from launcher.slurm import job as job_mod
from launcher.slurm import status as status_mod
from launcher.slurm.job import Resources, Task
from test_lifecycle import fill
from unit_support import cli

RESNET = "_onnxruntime,_cpu,_resnet50"
BERT = "_onnxruntime,_cpu,_bert-99"


def _commands(folder: Path, **scripts: str) -> dict[str, str]:
    """Fake Slurm commands (shell scripts) first on PATH; the environment to use them."""
    folder.mkdir(exist_ok=True)
    for name, body in scripts.items():
        path = folder / name
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def _dry_run(tmp_path, *args):
    proc = cli("slurm", "submit", "--results", tmp_path / "results", "--dry-run", *args)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_dry_run_prints_one_array_task_per_variation_and_scenario(tmp_path):
    proc = _dry_run(tmp_path, "-v", RESNET, "-v", BERT, "--scenario", "SingleStream,offline", "--mode", "both",
                    "--partition", "gpu", "--gres", "gpu:1", "--time", "00:30:00", "--max-parallel", "2",
                    "--", "--count", "8", "--hw_name", "my node")
    script = proc.stdout
    assert "#SBATCH --array=0-3%2" in script
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gres=gpu:1", "#SBATCH --time=00:30:00",
                 "#SBATCH --cpus-per-task=1"):
        assert line in script
    # the run flags as given (quoted), the mode, and the task's CPUs as the container's limit
    assert "--count 8 --hw_name 'my node' --mode both --cpus 1" in script
    tasks = [line.split() for line in proc.stderr.splitlines() if line.startswith("task ")]
    assert [(t[1], t[2], t[3]) for t in tasks] == [("0:", RESNET, "SingleStream"), ("1:", RESNET, "Offline"),
                                                   ("2:", BERT, "SingleStream"), ("3:", BERT, "Offline")]
    assert tasks[2][4].endswith("/onnxruntime-cpu:bert-99-fp32-standin)")
    assert len({t[6] for t in tasks}) == 4  # a folder of its own per task
    assert not (tmp_path / "results").exists()  # a dry run writes nothing


def test_a_given_cpus_flag_is_kept_and_no_scenario_means_runs_default(tmp_path):
    script = _dry_run(tmp_path, "--cpus-per-task", "2", "--", "--cpus", "0.5").stdout
    assert "--cpus 0.5" in script and "--cpus 2" not in script and "#SBATCH --cpus-per-task=2" in script
    proc = _dry_run(tmp_path, "-v", RESNET + ",_singlestream")
    assert f"task 0: {RESNET},_singlestream SingleStream" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["-v", "_onnxruntime,_cpu,_resnet5"], "did you mean _resnet50"),
    (["-v", "_tflite,_cpu,_bert-99"], "unsupported combination"),
    (["--scenario", "Bogus"], "--scenario 'Bogus'"),
    (["-v", RESNET + ",_singlestream", "--scenario", "Offline"], "contradicts the variation"),
    (["--cpus-per-task", "0"], "--cpus-per-task 0"),
    (["--partition", "a b"], "--partition 'a b'"),
    (["--bundle", "/nonexistent.tar"], "no such file"),
    (["--bundle", "/etc/hostname", "--registry", "r"], "give one"),
    (["--", "--count", "0"], "--count 0"),
    (["--", "--bogus", "1"], "No such option: --bogus"),
    (["--", "--output_dir", "x"], "give --results to `slurm submit`"),
    (["--", "-v", "_cpu"], "give -v/--variation to `slurm submit`"),
    (["--launcher", "'unbalanced"], "--launcher"),
    (["--mode", "sometimes"], "sometimes"),
])
def test_bad_input_is_one_line_and_nothing_is_written_or_submitted(tmp_path, args, message):
    env = _commands(tmp_path / "bin", sbatch=f"touch {tmp_path}/submitted; echo 1")
    proc = cli("slurm", "submit", "--results", tmp_path / "results", *args, env=env)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "submitted").exists()


def test_without_sbatch_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    proc = cli("slurm", "submit", "--results", tmp_path / "results")
    assert proc.returncode == 2 and "sbatch not found" in proc.stderr
    assert not (tmp_path / "results").exists()


def test_submit_writes_the_job_and_records_sbatchs_id(tmp_path):
    env = _commands(tmp_path / "bin", sbatch='echo "$@" > "$(dirname "$2")/sbatch.args"; echo "4242;cluster"')
    proc = cli("slurm", "submit", "--results", tmp_path / "results", "-v", RESNET, "-v", BERT, env=env)
    assert proc.returncode == 0, proc.stderr
    [folder] = (tmp_path / "results").glob("slurm-*")
    assert (folder / "sbatch.args").read_text().split() == ["--parsable", str(folder / job_mod.SCRIPT)]
    loaded = job_mod.load(folder)
    assert loaded.job_id == "4242" and [t.variation for t in loaded.tasks] == [RESNET, BERT]
    assert job_mod.find(tmp_path / "results", "4242") == folder
    assert job_mod.find(tmp_path / "results", None) == folder
    assert "submitted job 4242: 2 task(s)" in proc.stdout


def test_a_refused_submission_leaves_no_job_folder(tmp_path):
    env = _commands(tmp_path / "bin", sbatch="echo 'sbatch: error: invalid partition specified: nope' >&2; exit 1")
    proc = cli("slurm", "submit", "--results", tmp_path / "results", "--partition", "nope", env=env)
    assert proc.returncode == 1 and "sbatch refused the job: sbatch: error: invalid partition" in proc.stderr
    assert not list((tmp_path / "results").glob("slurm-*"))


def _run_script(tmp_path, index, slurm_gpus=True, **env):
    """The rendered script run by bash, as Slurm would, with a stand-in launcher that prints its argv."""
    tasks = [Task(i, f"_v{i}", "Offline", f"img{i}", tmp_path / f"out {i}", "cuda" if i == 2 else "cpu")
             for i in range(3)]
    (tmp_path / job_mod.TASKS).write_text("".join(t.line() + "\n" for t in tasks))
    script = job_mod.render_script(tmp_path, tasks, Resources(), ["echo", "launcher"], {"X": "a b"},
                                   ["--count", "8"], "docker", "repo", slurm_gpus=slurm_gpus)
    (tmp_path / "job.sbatch").write_text(script)
    return subprocess.run(["bash", str(tmp_path / "job.sbatch")], capture_output=True, text=True,
                          env={**os.environ, "SLURM_ARRAY_TASK_ID": str(index), **env})


def test_the_script_picks_its_task_by_array_index(tmp_path):
    proc = _run_script(tmp_path, 1, SLURM_JOB_GPUS="3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == \
        f"launcher run --variation _v1 --scenario Offline --output_dir {tmp_path}/out 1 --count 8"  # cpu: no GPUs
    proc = _run_script(tmp_path, 7)
    assert proc.returncode == 2 and "no task 7" in proc.stderr


def test_a_gpu_task_gets_the_gpus_slurm_allocated(tmp_path):
    last = _run_script(tmp_path, 2, SLURM_JOB_GPUS="1,3").stdout.splitlines()[-1]
    assert last.endswith("--count 8 --gpus 1,3")
    assert _run_script(tmp_path, 2).stdout.splitlines()[-1].endswith("--count 8")  # no gres: run's default
    assert _run_script(tmp_path, 2, slurm_gpus=False, SLURM_JOB_GPUS="1").stdout.splitlines()[-1].endswith("--count 8")


def test_status_reads_squeue_then_sacct_and_the_results(tmp_path):
    folder = tmp_path / "slurm-x"
    tasks = tuple(Task(i, RESNET, "Offline", "img", folder / f"t{i}") for i in range(4))
    job = job_mod.Job(folder, tasks, "", job_id="77")
    lc.write_complete(fill(tasks[0].output_dir / "20260101-000000-a", modes=("accuracy",)), ["Offline"], "accuracy")
    fill(tasks[1].output_dir / "20260101-000000-a", modes=("accuracy",))  # never marked complete
    env = _commands(tmp_path / "bin",
                    squeue='printf "77_2|RUNNING\\n77_3|PENDING\\n"',
                    sacct='printf "77_0|COMPLETED\\n77_0.batch|COMPLETED\\n77_1|FAILED\\n77_2|RUNNING\\n"')
    found = status_mod.status(job, env={**os.environ, **env})
    assert [(t.state, t.results) for t in found] == [("COMPLETED", "complete"), ("FAILED", "incomplete"),
                                                     ("RUNNING", "none"), ("PENDING", "none")]
    assert [t.active for t in found] == [False, False, True, True]


def test_status_without_accounting_uses_squeue_and_fails_when_neither_answers(tmp_path):
    env = {**os.environ, **_commands(tmp_path / "bin", squeue='echo "5_0|COMPLETED"',
                                      sacct="echo 'Slurm accounting storage is disabled' >&2; exit 1")}
    assert status_mod.slurm_states("5", env) == {0: "COMPLETED"}
    env = {**os.environ, **_commands(tmp_path / "bin", squeue="echo 'cannot reach controller' >&2; exit 1")}
    with pytest.raises(job_mod.SlurmError, match="accounting storage is disabled"):
        status_mod.slurm_states("5", env)


def test_status_command_exit_codes(tmp_path, monkeypatch):
    folder = tmp_path / "results" / "slurm-20260101-000000"
    folder.mkdir(parents=True)
    (folder / job_mod.TASKS).write_text(Task(0, RESNET, "Offline", "img", folder / "t0").line() + "\n")
    (folder / job_mod.RECORD).write_text(json.dumps({"job_id": "9"}))
    monkeypatch.setenv("PATH", _commands(tmp_path / "bin", squeue='echo "9_0|FAILED"', sacct="exit 1")["PATH"])
    proc = cli("slurm", "status", "9", "--results", tmp_path / "results", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["state"] == "FAILED"
    proc = cli("slurm", "status", "--results", tmp_path / "results", "--wait")
    assert proc.returncode == 1 and "0 of 1 task(s) complete" in proc.stderr
    proc = cli("slurm", "status", "10", "--results", tmp_path / "results")
    assert proc.returncode == 2 and "job 10: not submitted by mlperf-docker" in proc.stderr


def test_the_bundle_must_hold_every_tasks_image_and_is_loaded_where_missing(tmp_path):
    from launcher.airgap.bundle import write_bundle
    from test_bundle import manifest

    path = tmp_path / "images.tar"
    write_bundle(path, [b"docker save output"], manifest())  # holds the resnet50 onnxruntime stand-in only
    proc = cli("slurm", "submit", "--results", tmp_path / "results", "--dry-run", "-v", RESNET, "-v", BERT,
               "--bundle", path)
    assert proc.returncode == 2 and "lacks " in proc.stderr and "bert-99" in proc.stderr
    script = _dry_run(tmp_path, "-v", RESNET, "--bundle", path).stdout
    assert f'image inspect "$image" >/dev/null 2>&1 || ' in script
    assert f"bundle load {path} --repository " in script
    path.write_bytes(path.read_bytes()[:-1000])  # a damaged bundle is refused at submit time
    proc = cli("slurm", "submit", "--results", tmp_path / "results", "--dry-run", "--bundle", path)
    assert proc.returncode == 7, proc.stderr


def test_a_registry_pulls_missing_images_under_its_prefix(tmp_path):
    script = _dry_run(tmp_path, "-v", RESNET, "--registry", "registry.lab:5000/mlperf").stdout
    assert 'pull registry.lab:5000/mlperf/"$image"' in script
    assert 'tag registry.lab:5000/mlperf/"$image" "$image"' in script
