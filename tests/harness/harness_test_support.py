"""Helpers shared by the harness tests (a uniquely named module, so it
cannot collide with other test folders' helpers)."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "harness"


def harness_env(extra=None) -> dict:
    """Environment for running ``python -m mlperf_harness`` as a subprocess (plus ``extra``)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HARNESS), str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.pop("MLPERF_HARNESS_DEBUG", None)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra or {})
    return env


def harness_command(*args) -> list:
    return [sys.executable, "-m", "mlperf_harness", *map(str, args)]


def run_python(args, cwd=None, timeout=60, env=None):
    """``python ARGS`` with the harness importable (e.g. ["-m", "mlperf_harness.x", ...],
    ["-c", CODE, ...]); output captured as text; ``env``: extra variables."""
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=harness_env(env),
                          capture_output=True, text=True, timeout=timeout)


def run_harness(args, cwd, timeout=240, env=None):
    """``python -m mlperf_harness ARGS``: the harness as the launcher runs it."""
    return run_python(["-m", "mlperf_harness", *args], cwd=cwd, timeout=timeout, env=env)


def standin_args(model, info, backend, out, *extra) -> list:
    """Harness arguments for a CPU run of ``model`` on a stand-in fixture's ``info`` (its
    "models"[backend] and "dataset_path") into ``out``, system "box", plus ``extra``."""
    return ["--model", model, "--backend", backend, "--device", "cpu",
            "--model_path", info["models"][backend], "--dataset_path", info["dataset_path"],
            "--output_dir", out, "--system", "box", *extra]


def start_harness(args, cwd):
    """Start the harness in the background (collect with ``finish``)."""
    return subprocess.Popen(harness_command(*args), cwd=cwd, env=harness_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=300):
    stdout, stderr = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def mllog(detail_path) -> dict:
    """``:::MLLOG {json}`` lines of mlperf_log_detail.txt -> {key: value} (first wins)."""
    from mlperf_harness.contract import detail_values

    return detail_values(detail_path)


def test_folder(out, system, model, scenario, mode) -> Path:
    from mlperf_harness.contract import test_dir

    return test_dir(out, system, model, scenario, mode)


test_folder.__test__ = False  # a helper, not a pytest test
