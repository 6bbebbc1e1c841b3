"""LoadGen over the network: the wire format, the QDL against in-process SUT servers (round-robin,
name, errors), the settings' checks, and the harness end to end (two `--network sut` servers and a
`--network lon` run on loopback, accuracy equal to the local run's)."""

import ctypes
import re
import socket
import threading
import time
from collections import namedtuple

import numpy as np
import pytest

from harness_test_support import run_harness, start_harness
from mlperf_harness.contract import BenchmarkSettings, SettingsError
from mlperf_harness.errors import HarnessError
from mlperf_harness.network import NetworkQDL, decode_samples, encode_results, encode_sample, get_json
from mlperf_harness.network_sut import Predictor, SutServer

Sample = namedtuple("Sample", "id index")


class FakeQSL:
    def __init__(self, n=20, pair=False):
        make = (lambda i: (np.full((3,), i, np.int64), np.full((3,), -i, np.int64))) if pair \
            else (lambda i: np.full((2, 2), i, np.float32))
        self.samples = {i: make(i) for i in range(n)}


class FakeBackend:
    def run(self, batch):  # label = first value + 1
        first = batch[0] if isinstance(batch, tuple) else batch
        return [first.reshape(first.shape[0], -1)[:, 0].astype(np.int32) + 1]


def _server(max_batch=4, fail=False):
    def infer(backend, batch):
        if fail:
            raise ValueError("boom")
        return backend.run(batch)

    predictor = Predictor(FakeBackend(), infer, lambda outputs: outputs[0], None, max_batch)
    server = SutServer(("127.0.0.1", 0), "fake Network SUT", predictor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def two_servers():
    servers = [_server(), _server()]
    yield servers
    for server, _ in servers:
        server.shutdown()
        server.server_close()


class Collector:
    def __init__(self, expected):
        self.got, self.expected = {}, expected
        self.lock, self.done = threading.Lock(), threading.Event()

    def __call__(self, responses):
        with self.lock:
            for r in responses:
                self.got[r.id] = int(np.frombuffer(ctypes.string_at(r.data, r.size), "<i4")[0])
            if len(self.got) >= self.expected:
                self.done.set()


def _qdl(urls, qsl, collector, errors, max_batchsize=4):
    qdl = NetworkQDL(urls, qsl, max_batchsize=max_batchsize, complete=collector, on_error=errors.append)
    load = qdl.loading(lambda indices: None)
    load(list(qsl.samples))
    return qdl


def test_wire_format_round_trip():
    pair = (np.arange(6, dtype=np.int64).reshape(2, 3), np.ones(4, np.float16))
    blobs = [encode_sample(7, pair), encode_sample(9, (pair[0] * 2, pair[1]))]
    indices, batch = decode_samples("[" + ",".join(b[1] for b in blobs) + "]", b"".join(b[0] for b in blobs))
    assert indices == [7, 9]
    assert batch[0].shape == (2, 2, 3) and batch[1].dtype == np.float16
    assert (batch[0][1] == pair[0] * 2).all()
    data, sizes = encode_results([np.zeros(3, np.float32), np.zeros(5, np.float32)], 2)
    assert sizes == [12, 20] and len(data) == 32
    with pytest.raises(ValueError, match="shorter"):
        decode_samples(blobs[0][1].join("[]"), b"")


def test_round_robin_over_both_servers_and_results(two_servers):
    qsl, errors, collector = FakeQSL(), [], Collector(20)
    qdl = _qdl([url for _, url in two_servers], qsl, collector, errors)
    qdl.connect()
    qdl.issue_queries([Sample(100 + i, i) for i in range(20)])  # Offline: one query, 5 requests
    for i in range(4):  # Server: one sample per query
        qdl.issue_queries([Sample(200 + i, i)])
    collector.expected = 24
    assert collector.done.wait(10), errors
    qdl.destroy()
    assert not errors
    assert collector.got[105] == 6 and collector.got[203] == 4
    assert [server.requests for server, _ in two_servers] == [5, 4]  # alternating: 9 requests
    assert sum(server.samples for server, _ in two_servers) == 24
    assert qdl.requests == [5, 4] and "24 samples" in qdl.stats_line()


def test_name_says_network_sut(two_servers):
    qdl = NetworkQDL([url for _, url in two_servers], FakeQSL())
    assert "Network SUT" in qdl.name()  # even before connecting (never empty)
    qdl.connect()
    assert qdl.name().startswith("mlperf-docker Network SUT over 2 servers: fake Network SUT")
    qdl.destroy()


def test_tuple_samples(two_servers):
    qsl, errors, collector = FakeQSL(pair=True), [], Collector(3)
    qdl = _qdl([two_servers[0][1]], qsl, collector, errors)
    qdl.issue_queries([Sample(1, 5), Sample(2, 6), Sample(3, 7)])
    assert collector.done.wait(10), errors
    qdl.destroy()
    assert collector.got == {1: 6, 2: 7, 3: 8}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_one_line():
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(HarnessError) as info:
        get_json(url, "/name", timeout=2)
    assert str(info.value).startswith(f"SUT server {url} is not reachable (")
    assert "\n" not in str(info.value)


def test_server_failure_reaches_on_error():
    server, url = _server(fail=True)
    try:
        qsl, errors = FakeQSL(), []
        qdl = _qdl([url], qsl, Collector(1), errors)
        qdl.issue_queries([Sample(1, 1)])
        qdl.destroy()
        assert errors == [f"SUT server {url}: HTTP 500: ValueError: boom"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("extra, message", [
    (dict(network="lon"), "--network lon needs --sut_servers"),
    (dict(network="lon", sut_servers="127.0.0.1:8000"), "--sut_servers '127.0.0.1:8000': expected http://HOST:PORT"),
    (dict(network="lon", sut_servers="http://a:1,http://a:1"), "given twice"),
    (dict(sut_servers="http://a:1"), "--sut_servers applies to --network lon only"),
    (dict(network="lon", sut_servers="http://a:1", scenario="SingleStream"), "runs Offline and Server only"),
    (dict(network="sut", scenario="Offline,MultiStream"), "not MultiStream"),
])
def test_network_settings_checked(extra, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        BenchmarkSettings(**{"scenario": "Offline", **extra}).validate()


def test_servers_split_on_commas():
    settings = BenchmarkSettings(scenario="Server", network="lon", sut_servers="http://a:1/, http://b:2")
    settings.validate()
    from mlperf_harness.contract import parse_servers

    assert parse_servers(settings.sut_servers) == ["http://a:1", "http://b:2"]


def _wait_ready(url, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        try:
            return get_json(url, "/name", timeout=1)
        except HarnessError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never became ready")


def test_harness_lon_end_to_end(standin, tmp_path):
    """Two `--network sut` harnesses and one `--network lon` run on loopback: both servers work,
    accuracy.txt equals the local run's; an unreachable server is one line before anything is written."""
    base = ["--model", "resnet50", "--backend", "onnxruntime", "--device", "cpu",
            "--model_path", standin["model_path"], "--dataset_path", standin["dataset_path"]]
    ports = [_free_port(), _free_port()]
    servers = [start_harness([*base, "--output_dir", tmp_path / f"s{p}", "--network", "sut", "--port", p,
                              "--scenario", "Offline"], cwd=tmp_path) for p in ports]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for url, proc in zip(urls, servers):
            assert "Network SUT" in _wait_ready(url, proc)["name"]
        lon = run_harness([*base, "--output_dir", tmp_path / "lon", "--system", "box", "--network", "lon",
                           "--sut_servers", ",".join(urls), "--scenario", "Offline,Server", "--mode", "both",
                           "--test_query_count", "60", "--server_target_qps", "200"], cwd=tmp_path)
        assert lon.returncode == 0, lon.stderr
        counts = [get_json(url, "/stats")["requests"] for url in urls]
        assert all(c > 0 for c in counts), counts
        detail = (tmp_path / "lon/box/resnet50/Server/performance/run_1/mlperf_log_detail.txt").read_text()
        assert re.search(r'"key": "sut_name", "value": "mlperf-docker Network SUT over 2 servers', detail)
    finally:
        for proc in servers:
            proc.terminate()
            proc.communicate(timeout=30)
    assert all(proc.returncode == 0 for proc in servers)
    local = run_harness([*base, "--output_dir", tmp_path / "local", "--system", "box", "--scenario", "Offline"],
                        cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    expected = (tmp_path / "local/box/resnet50/Offline/accuracy/accuracy.txt").read_text()
    for scenario in ("Offline", "Server"):
        assert (tmp_path / f"lon/box/resnet50/{scenario}/accuracy/accuracy.txt").read_text() == expected
    gone = run_harness([*base, "--output_dir", tmp_path / "gone", "--network", "lon", "--sut_servers", urls[0]],
                       cwd=tmp_path)
    assert gone.returncode == 1 and gone.stderr.startswith(f"error: SUT server {urls[0]} is not reachable")
    assert len(gone.stderr.splitlines()) == 1 and not (tmp_path / "gone").exists()


def test_no_nagle_delay_per_request(two_servers):
    """Both ends of every request disable Nagle's algorithm (TCP_NODELAY): with it, small replies waited
    for the client's delayed ACK (~40 ms per loopback request instead of ~1 ms). Checked on the sockets
    themselves, not by timing."""
    from mlperf_harness import network, network_sut
    url = two_servers[0][1]
    conn = network._Connection(*network._address(url), timeout=10)
    conn.connect()
    try:
        assert conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        conn.close()
    # the server's handler: socketserver.StreamRequestHandler.setup sets TCP_NODELAY from this flag
    assert network_sut._Handler.disable_nagle_algorithm is True
