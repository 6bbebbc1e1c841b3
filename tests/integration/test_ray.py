"""The ray image (the reference's Ray SUT for bert: the pytorch backend in Ray actors), in containers with
the launcher's isolation (--network none, read-only root, no capabilities): the tiny-BERT stand-in gives
its known exact match and F1 in all four scenarios, both actors do work in each, Ray is shut down with no
process left; a run stopped by SIGTERM is stopped, removed and not complete."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from integration_support import ROOT, mlperf_docker

from launcher.run import lifecycle, owned

pytestmark = pytest.mark.docker

VARIATION = "_ray,_cpu,_bert-99"
SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream")
ACTORS = re.compile(r"^ray: 2 actors: actor 0: (\d+) samples in \d+ batches, actor 1: (\d+) samples", re.M)
SUT = re.compile(r"^sut: (\d+) samples in \d+ batches.* for (\w+) accuracy$", re.M)


@pytest.fixture(scope="module")
def ray_image(cli_env):
    started = time.monotonic()
    proc = mlperf_docker(cli_env, "build", "--variation", VARIATION)
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(f"\n[build] ray-cpu bert-99 in {time.monotonic() - started:.1f} s", file=sys.stderr)


def test_ray_bert_standin_in_every_scenario(ray_image, cli_env, cache_dir, tmp_path):
    out_dir = tmp_path / "results"
    proc = mlperf_docker(cli_env, "run", "--variation", VARIATION, "--scenario", ",".join(SCENARIOS),
                         "--mode", "accuracy", "--threads", "2", "--output_dir", str(out_dir))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [run_dir] = out_dir.iterdir()
    assert lifecycle.is_complete(run_dir)
    [expected] = cache_dir.glob("standins/bert_pytorch-*/expected.json")
    known = json.loads(expected.read_text())
    for scenario in SCENARIOS:
        [accuracy] = run_dir.glob(f"*/bert-99/{scenario}/accuracy/accuracy.txt")
        scores = json.loads(accuracy.read_text())
        assert scores["exact_match"] == pytest.approx(known["exact_match"], abs=1e-6), scenario
        assert scores["f1"] == pytest.approx(known["f1"], abs=1e-6), scenario
    out = proc.stdout
    # One Ray node on loopback for the run; per test, both actors answered, and together all samples.
    assert out.count("ray: node started on 127.0.0.1") == 1, out[-3000:]
    sut = SUT.findall(out)
    actors = ACTORS.findall(out)
    assert [s for _, s in sut] == list(SCENARIOS) and len(actors) == len(SCENARIOS), out[-3000:]
    for (total, scenario), (first, second) in zip(sut, actors):
        assert int(first) > 0 and int(second) > 0, (scenario, first, second)
        assert int(first) + int(second) == int(total), (scenario, first, second, total)
    assert "ray: node shut down; 0 Ray processes left" in out, out[-3000:]


def _ray_processes(client, container_id: str) -> int:
    code = ("import os; print(sum(1 for p in os.listdir('/proc') if p.isdigit() and any(m in open("
            "f'/proc/{p}/cmdline', 'rb').read() for m in (b'raylet', b'gcs_server', b'ray::'))))")
    return int(client.containers.get(container_id).exec_run(["python3", "-c", code]).output.decode().strip())


def test_sigterm_stops_ray_and_the_run_is_incomplete(ray_image, docker_client, cli_env, tmp_path):
    out_dir = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "run", "--variation", VARIATION,
                             "--scenario", "Offline", "--mode", "performance", "--threads", "2",
                             "--test_query_count", "5000000", "--output_dir", str(out_dir)],
                            cwd=ROOT, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    container = None
    while time.monotonic() < deadline and container is None:
        assert proc.poll() is None, proc.communicate()
        running = [c for c in docker_client.api.containers(filters={"label": f"{owned.LABEL_PID}={proc.pid}"})
                   if c["State"] == "running"]
        if running and any(p.stat().st_size for p in out_dir.glob("*/*/*/*/*/*/mlperf_log_detail.txt")):
            container = running[0]["Id"]
        time.sleep(0.5)
    assert container, "the run never reached LoadGen"
    assert _ray_processes(docker_client, container) >= 3  # gcs_server, raylet, the actors
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr[-2000:]
    assert "Traceback" not in stderr
    [run_dir] = lifecycle.run_folders(out_dir)
    assert not lifecycle.is_complete(run_dir)
    assert (run_dir / lifecycle.INCOMPLETE).read_text().startswith("interrupted (SIGTERM)")
    deadline = time.monotonic() + 30
    while docker_client.api.containers(all=True, filters={"label": f"{owned.LABEL_PID}={proc.pid}"}):
        assert time.monotonic() < deadline, "the container is still there"
        time.sleep(0.3)
