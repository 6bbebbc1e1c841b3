"""`run`'s host-side checks (issue 10): one line, exit 2, before any folder is made or engine asked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from launcher.spec.render import ROOT


@pytest.mark.parametrize("args, message", [
    (["--output_dir", ""], "error: --output_dir '': expected a folder"),
    (["--timeout", "-5"], "error: --timeout -5.0: expected a finite number of seconds > 0"),
    (["--timeout", "nan"], "error: --timeout nan: expected a finite number of seconds > 0"),
    (["--hw_name", ".."], "error: --hw_name '..': expected a plain name"),
    (["--dataset_args", "vocab_file=v.txt"], "error: --dataset_args: unknown key 'vocab_file' for the imagenet dataset"),
    (["--memory", "lots"], "error: --memory 'lots': expected a size such as 8g or 512m"),
    (["--memory", "1m"], "error: --memory '1m': docker needs at least 6m"),
    (["--cpus", "0"], "error: --cpus '0': expected a number from 0.01 to"),
    (["--shm-size", "big"], "error: --shm-size 'big': expected a size"),
    (["--user", "0:0"], "error: --user '0:0': the benchmark container never runs as root"),
    (["--model", "{tmp}/missing.onnx"], "error: --model {tmp}/missing.onnx: no such file"),
    (["--dataset_path", "{tmp}/missing"], "error: --dataset_path {tmp}/missing: no such folder"),
])
def test_refused_on_the_host_before_anything_is_made(tmp_path, args, message):
    out = tmp_path / "out"
    argv = [a.format(tmp=tmp_path) for a in args]
    if "--output_dir" not in argv:
        argv += ["--output_dir", str(out)]
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp_path}/no-such.sock")  # no engine is needed to refuse
    proc = subprocess.run([sys.executable, "-m", "launcher.cli", "run", *argv], capture_output=True, text=True,
                          cwd=tmp_path, env=dict(env, PYTHONPATH=str(ROOT)), timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message.format(tmp=tmp_path)), proc.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []
