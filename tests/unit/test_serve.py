"""`serve` and `run --network lon` as planned (no engine): the one container with a network publishes
exactly one port on the address given; the LON run uses the host's network; bad input is one line."""

from __future__ import annotations

import shlex

import pytest

from launcher.engine.docker_engine import sdk_arguments
from launcher.errors import UsageError
from launcher.run.container import ContainerSpec, Port
from launcher.run.options import RunOptions
from launcher.run.plan import make_plan
from launcher.run.serve import make_serve_plan
from launcher.session import Session
from launcher.spec.variation import parse_variation
from unit_support import cli


@pytest.fixture(scope="module")
def session():
    return Session.open()


def test_serve_publishes_one_port_on_the_given_address(session):
    v = parse_variation(None, session.spec)
    plan = make_serve_plan(session, v, RunOptions.of(count=10), host="127.0.0.1", port=8123)
    spec = plan.container()
    assert spec.network == "bridge" and spec.ports == [Port("127.0.0.1", 8123, 8000)]
    assert not any(m.target == "/results" for m in spec.mounts)  # a server writes no results
    assert spec.cap_drop == ["ALL"] and spec.read_only and spec.auto_remove
    argv = shlex.split(plan.docker_run_line())
    assert argv.count("--publish") == 1 and argv[argv.index("--publish") + 1] == "127.0.0.1:8123:8000"
    assert argv[-2:] == ["--network", "sut"] and argv[argv.index("--name") + 1] == "mlperf-docker-serve-8123"
    assert sdk_arguments(spec)["ports"] == {"8000/tcp": ("127.0.0.1", 8123)}
    assert plan.url == "http://127.0.0.1:8123"


def test_ipv6_publish_line():
    spec = ContainerSpec(image="i", command=[], ports=[Port("::1", 9000, 8000)])
    assert "--publish '[::1]:9000:8000'" in spec.to_cli()


def test_lon_run_uses_the_host_network_and_passes_the_servers(session, tmp_path):
    v = parse_variation(None, session.spec)
    plan = make_plan(session, v, RunOptions.of(scenarios=("Offline", "Server"), output_dir=tmp_path, network="lon",
                                               sut_servers="http://127.0.0.1:8000,http://10.0.0.2:8001"))
    spec = plan.container(tmp_path)
    assert spec.network == "host" and not spec.ports
    assert spec.command[-4:] == ["--network", "lon", "--sut_servers", "http://127.0.0.1:8000,http://10.0.0.2:8001"]
    local = make_plan(session, v, RunOptions.of(output_dir=tmp_path))
    assert local.container(tmp_path).network == "none"


def test_serve_refuses_what_a_server_cannot_do(session):
    v = parse_variation(None, session.spec)
    with pytest.raises(UsageError, match="runs Offline and Server only"):
        make_serve_plan(session, v, RunOptions.of(scenarios=("SingleStream",)))


@pytest.mark.parametrize("args, message", [
    (("run", "--network", "sut"), "error: --network sut: start a SUT server with `mlperf-docker serve -v VAR --port N`"),
    (("run", "--network", "lon"), "error: --network lon needs --sut_servers URL[,URL...] (the SUT servers)"),
    (("run", "--network", "lon", "--sut_servers", "http://a:1,ftp://b"), "error: --sut_servers 'ftp://b': expected http://HOST:PORT"),
    (("run", "--sut_servers", "http://a:1"), "error: --sut_servers applies to --network lon only"),
    (("serve", "--host", "example.org"), "error: --host 'example.org': expected an IP address to bind "
                                         "(127.0.0.1: this host only; 0.0.0.0: every interface)"),
    (("serve", "--port", "70000"), "error: --port 70000: expected a TCP port, 1 to 65535"),
    (("serve", "--name", "../x"), "error: --name '../x': expected a container name (letters, digits, _ . -)"),
])
def test_bad_input_is_one_line(args, message, tmp_path):
    proc = cli(*args, "--dry-run")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [message]


def test_unreachable_server_is_one_line_before_anything_is_written(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens there
    proc = cli("run", "--network", "lon", "--sut_servers", url, "--output_dir", tmp_path / "out")
    assert proc.returncode != 0
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: SUT server {url} is not reachable (") and line.endswith("`mlperf-docker serve`")
    assert not (tmp_path / "out").exists()
