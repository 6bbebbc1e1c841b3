"""LoadGen over the network on loopback: two `serve` containers (ports published on 127.0.0.1) and one
`run --network lon` of the default image, Offline and Server, accuracy and performance; both servers did
work, the SUT name says "Network SUT", and accuracy.txt equals a local run's."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from integration_support import mlperf_docker
from launcher.spec.render import ROOT

pytestmark = pytest.mark.docker
COUNT = "20"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=2) as reply:
        return json.loads(reply.read())


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {proc.communicate()}")
        try:
            return _get(url + "/name")
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} never answered")


def test_two_sut_servers_one_lon_run(built_image, cli_env, tmp_path, docker_client):
    started = time.monotonic()
    ports = [_free_port(), _free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    servers = [subprocess.Popen([sys.executable, "-m", "launcher.cli", "serve", "--port", str(p), "--count", COUNT],
                                cwd=ROOT, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for p in ports]
    # The local run to compare with, meanwhile (its container has no network: it cannot reach the servers).
    local = subprocess.Popen([sys.executable, "-m", "launcher.cli", "run", "--scenario", "Offline", "--mode",
                              "accuracy", "--count", COUNT, "--output_dir", str(tmp_path / "local")],
                             cwd=ROOT, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for url, proc in zip(urls, servers):
            assert "Network SUT" in _wait_ready(url, proc)["name"]
        ready = time.monotonic() - started
        [name] = {c.name for c in docker_client.containers.list() if c.name == f"mlperf-docker-serve-{ports[0]}"}
        published = docker_client.containers.get(name).attrs["HostConfig"]["PortBindings"]
        assert published == {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(ports[0])}]}
        lon = mlperf_docker(cli_env, "run", "--network", "lon", "--sut_servers", ",".join(urls),
                            "--scenario", "Offline,Server", "--mode", "both", "--count", COUNT,
                            "--test_query_count", "40", "--server_target_qps", "50", "--output_dir", tmp_path / "lon")
        assert lon.returncode == 0, lon.stdout[-3000:] + lon.stderr[-3000:]
        stats = [_get(url + "/stats") for url in urls]
        assert all(s["requests"] > 0 for s in stats), stats  # round-robin: both servers did work
        lon_done = time.monotonic() - started
    finally:
        for proc in servers:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=60) for proc in servers]
        local_out, local_err = local.communicate(timeout=600)
    assert [proc.returncode for proc in servers] == [0, 0], outputs
    assert not [c for c in docker_client.containers.list(all=True) if c.name.startswith("mlperf-docker-serve-")
                and c.name.endswith(tuple(str(p) for p in ports))]
    [lon_dir] = (tmp_path / "lon").iterdir()
    [system] = [d for d in lon_dir.iterdir() if d.is_dir()]
    detail = (system / "resnet50/Server/performance/run_1/mlperf_log_detail.txt").read_text()
    assert re.search(r'"key": "sut_name", "value": "mlperf-docker Network SUT over 2 servers', detail)
    assert json.loads((lon_dir / "run.json").read_text())["network"] == {"mode": "lon", "sut_servers": urls}
    assert local.returncode == 0, local_err[-3000:]
    [expected] = (tmp_path / "local").glob("*/*/resnet50/Offline/accuracy/accuracy.txt")
    for scenario in ("Offline", "Server"):
        assert (system / f"resnet50/{scenario}/accuracy/accuracy.txt").read_text() == expected.read_text()
    print(f"\n[network] servers ready at {ready:.1f} s, LON run done at {lon_done:.1f} s, all in "
          f"{time.monotonic() - started:.1f} s", file=sys.stderr)
