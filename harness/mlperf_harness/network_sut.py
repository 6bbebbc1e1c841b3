"""LoadGen over the network, SUT side (``--network sut``): the backend served over HTTP.

A ThreadingHTTPServer from the standard library (no new wheel in the images; the reference's demo
uses Flask, which would add a framework and its dependencies for three routes). ``POST /predict``
decodes the samples (timed: the LON side's clock runs), runs the model in chunks of at most the
model's batch limit, one request's inference at a time (the framework's own threads use the cores),
and replies with the responses; ``GET /name`` and ``GET /stats`` (requests and samples served, which
the tests read). The wire format is mlperf_harness.network's.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, List, Optional, Tuple

from mlperf_harness.errors import describe
from mlperf_harness.network import NAME_PREFIX, decode_samples, encode_results


class Predictor:
    """A request's samples -> their response bytes: chunks of ``max_batch`` through the model."""

    def __init__(self, backend, infer: Callable, postprocess: Callable, responses: Optional[Callable],
                 max_batch: int) -> None:
        self.backend, self.infer, self.postprocess, self.responses = backend, infer, postprocess, responses
        self.max_batch = max(1, max_batch)
        self._lock = threading.Lock()

    def __call__(self, header: str, body: bytes) -> Tuple[bytes, List[int]]:
        indices, batch = decode_samples(header, body)
        datas, sizes = [], []
        for start in range(0, len(indices), self.max_batch):
            part = slice(start, start + self.max_batch)
            chunk = tuple(b[part] for b in batch) if isinstance(batch, tuple) else batch[part]
            with self._lock:
                outputs = self.infer(self.backend, chunk)
            results = self.responses(outputs, indices[part]) if self.responses is not None \
                else self.postprocess(outputs)
            data, chunk_sizes = encode_results(results, len(indices[part]))
            datas.append(data)
            sizes += chunk_sizes
        return b"".join(datas), sizes


class SutServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, name: str, predict: Callable[[str, bytes], Tuple[bytes, List[int]]]):
        super().__init__(address, _Handler)
        self.name = name
        self.predict = predict
        self.requests = 0
        self.samples = 0
        self._stats = threading.Lock()

    def count(self, samples: int) -> None:
        with self._stats:
            self.requests += 1
            self.samples += samples


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the QDL reuses its connections
    # TCP_NODELAY: the reply's headers and body are two writes; with Nagle's algorithm and the
    # client's delayed ACK the body waited ~40 ms (measured: 47 ms -> 0.8 ms per loopback request).
    disable_nagle_algorithm = True
    server: SutServer

    def _reply(self, status: int, body: bytes, content_type: str, headers: dict = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, data: dict) -> None:
        self._reply(200, json.dumps(data).encode(), "application/json")

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path.rstrip("/") == "/name":
            self._json({"name": self.server.name})
        elif self.path.rstrip("/") == "/stats":
            with self.server._stats:
                self._json({"requests": self.server.requests, "samples": self.server.samples})
        else:
            self._reply(404, b"unknown path\n", "text/plain")

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path.rstrip("/") != "/predict":
            self._reply(404, b"unknown path\n", "text/plain")
            return
        try:
            data, sizes = self.server.predict(self.headers.get("X-Samples") or "", body)
        except Exception as exc:
            message = describe(exc)
            print(f"error: a /predict request failed: {message}", file=sys.stderr, flush=True)
            self._reply(500, message.encode() + b"\n", "text/plain")
            return
        self.server.count(len(sizes))
        self._reply(200, data, "application/octet-stream", {"X-Sizes": json.dumps(sizes)})

    def log_message(self, format, *args):  # noqa: A002 (quiet: one line per request is noise)
        pass


def sut_name(plan) -> str:
    return f"{NAME_PREFIX} {plan.model} {plan.backend}-{plan.device} on {socket.gethostname()}"


def serve(plan, host: str = "0.0.0.0") -> int:
    """``--network sut``: load the model, warm it up, serve until SIGTERM or SIGINT (exit 0)."""
    from mlperf_harness import backends, models
    from mlperf_harness.loadgen_child import _warm_up

    model = models.get_model(plan.model)
    backend = backends.create_backend(
        plan.backend, plan.model_path, device=plan.device, threads=plan.threads, precision=plan.precision,
        input_names=model.input_names, outputs=model.outputs, output_names=model.output_names)
    options = dict(plan.dataset_args)
    options.setdefault("layout", getattr(backend, "image_format", "NCHW"))
    dataset = model.open_dataset(plan.dataset_path, plan.count, model_path=plan.model_path, **options)
    max_batch = min(b for b in (plan.max_batchsize, model.max_batch, backend.max_batch) if b is not None)
    infer = model.infer()
    _warm_up(lambda batch: infer(backend, batch), dataset.sample_spec, [1, max_batch])
    server = SutServer((host, plan.port), sut_name(plan),
                       Predictor(backend, infer, model.postprocess, model.responses, max_batch))
    print(f"backend: {backend.describe()}", flush=True)
    print(f"serving {server.name!r} on port {plan.port}: POST /predict, GET /name, GET /stats",
          flush=True)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    print(f"stopped after {server.requests} requests ({server.samples} samples)", flush=True)
    return 0
