"""LoadGen over the network, LON side: a query dispatch library (QDL) sending LoadGen's queries to
SUT servers (mlperf_harness.network_sut) over HTTP, and the wire format both sides share.

The rules (LoadGen's README, "LoadGen over the Network"): LoadGen and the QSL run here; the QDL does
no timed work and no batching; decompression (decoding) is timed on the SUT; its name identifies a
network SUT. So:

- each sample's request payload (its raw array bytes, and its shapes and dtypes as a JSON
  fragment) is made in LoadSamplesToRam, outside the timed run (``NetworkQDL.loading``);
- ``issue_queries`` only cuts the query it was given into requests of at most ``max_batchsize``
  samples (it never waits for or joins queries), hands each to the next server round-robin and
  returns; a pool of connections per server sends them and completes the samples from the replies;
- ``name()`` is "mlperf-docker Network SUT ..." with the servers' own names (never empty).

Wire format. ``POST /predict``: body = the samples' array bytes one after another; header
``X-Samples`` = JSON ``[[index, [[shape, dtype], ...]], ...]`` (one [shape, dtype] per input
array). Reply 200: body = the samples' response bytes one after another, header ``X-Sizes`` =
JSON ``[bytes, ...]``; any other status carries a one-line reason. ``GET /name`` ->
``{"name": ...}``; ``GET /stats`` -> ``{"requests": N, "samples": M}``.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

import numpy as np

from mlperf_harness.errors import HarnessError, abort, describe
from mlperf_harness.network_settings import CONNECTIONS_PER_SERVER

NAME_PREFIX = "mlperf-docker Network SUT"
CONNECT_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 3600.0


# ---- wire format -----------------------------------------------------------------------------
def encode_sample(index: int, sample) -> Tuple[bytes, str]:
    """One QSL sample (an array, or a tuple of arrays) -> (its bytes, its JSON fragment)."""
    parts = sample if isinstance(sample, tuple) else (sample,)
    parts = [np.ascontiguousarray(p) for p in parts]
    meta = json.dumps([int(index), [[list(p.shape), p.dtype.str] for p in parts]])
    return b"".join(p.tobytes() for p in parts), meta


def decode_samples(header: str, body: bytes) -> Tuple[List[int], object]:
    """A /predict request -> (the sample indices, the batch: [N, ...] or a tuple of such)."""
    try:
        samples = json.loads(header)
        indices = [int(s[0]) for s in samples]
        specs = [[(tuple(int(d) for d in shape), np.dtype(dtype)) for shape, dtype in s[1]]
                 for s in samples]
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise ValueError(f"bad X-Samples header ({describe(exc)})") from None
    if not indices:
        raise ValueError("a request with no samples")
    offset, per_part = 0, [[] for _ in specs[0]]
    for spec in specs:
        if len(spec) != len(per_part):
            raise ValueError("the samples of one request have different numbers of inputs")
        for k, (shape, dtype) in enumerate(spec):
            count = int(np.prod(shape, dtype=np.int64))
            if offset + count * dtype.itemsize > len(body):
                raise ValueError(f"the body is shorter than its X-Samples header says ({len(body)} bytes)")
            per_part[k].append(np.frombuffer(body, dtype, count, offset).reshape(shape))
            offset += count * dtype.itemsize
    if offset != len(body):
        raise ValueError(f"the body has {len(body) - offset} bytes more than its X-Samples header says")
    batch = tuple(np.stack(arrays) for arrays in per_part)
    return indices, batch[0] if len(batch) == 1 else batch


def encode_results(results, count: int) -> Tuple[bytes, List[int]]:
    """The SUT's results for ``count`` samples (an array [N, ...] or a list of N arrays) ->
    (the bytes of each sample's response, one after another; their sizes)."""
    arrays = [np.ascontiguousarray(r) for r in results] if isinstance(results, (list, tuple)) \
        else list(np.ascontiguousarray(results))
    if len(arrays) != count:
        raise RuntimeError(f"the backend returned {len(arrays)} results for {count} samples")
    arrays = [np.ascontiguousarray(a) for a in arrays]
    return b"".join(a.tobytes() for a in arrays), [a.nbytes for a in arrays]


class _Connection(http.client.HTTPConnection):
    """A keep-alive connection with TCP_NODELAY (no Nagle delay on small requests; also when
    http.client reopens it)."""

    def connect(self):
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _address(url: str) -> Tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 80


def get_json(url: str, path: str, timeout: float = CONNECT_TIMEOUT_S) -> dict:
    """GET url+path -> its JSON object; HarnessError (one line) when unreachable or not a SUT server."""
    host, port = _address(url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        body = reply.read()
        if reply.status != 200:
            raise HarnessError(f"SUT server {url} answered {path} with HTTP {reply.status}")
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data
    except HarnessError:
        raise
    except (OSError, http.client.HTTPException) as exc:
        raise HarnessError(f"SUT server {url} is not reachable ({describe(exc)})") from None
    except ValueError as exc:
        raise HarnessError(f"{url} is not a SUT server ({path}: {describe(exc)})") from None
    finally:
        conn.close()


# ---- the QDL ---------------------------------------------------------------------------------
class NetworkQDL:
    """LoadGen's SUT on the LON side: round-robin over ``servers``; construct() -> lg.ConstructQDL."""

    def __init__(self, servers: Sequence[str], qsl, max_batchsize: int = 32,
                 connections: int = CONNECTIONS_PER_SERVER,
                 complete: Optional[Callable] = None, on_error: Callable[[str], None] = abort) -> None:
        if not servers:
            raise HarnessError("no SUT servers given")
        self.servers = list(servers)
        self.qsl = qsl
        self.max_batchsize = max(1, max_batchsize)
        self.on_error = on_error
        self._complete_fn = complete
        self.server_names: List[str] = []
        self.requests = [0] * len(self.servers)
        self.samples = [0] * len(self.servers)
        self.completed = 0
        self._next = 0
        self._lock = threading.Lock()
        self._payloads: Dict[int, Tuple[bytes, str]] = {}
        self._local = threading.local()
        self._pools = [ThreadPoolExecutor(max_workers=connections, thread_name_prefix=f"qdl-{n}")
                       for n in range(len(self.servers))]
        self._handle = None

    def connect(self) -> None:
        """Ask every server its name (before the test): an unreachable one is one HarnessError."""
        self.server_names = [str(get_json(url, "/name").get("name") or url) for url in self.servers]

    def name(self) -> str:
        names = "; ".join(self.server_names or self.servers)
        count = len(self.servers)
        return f"{NAME_PREFIX} over {count} server{'s' if count > 1 else ''}: {names}"

    # QSL hooks: the payloads are made when LoadGen loads the samples, outside the timed run.
    def loading(self, load: Callable[[Sequence[int]], None]) -> Callable[[Sequence[int]], None]:
        def load_samples(indices: Sequence[int]) -> None:
            load(indices)
            for index in indices:
                if index not in self._payloads:
                    self._payloads[index] = encode_sample(index, self.qsl.samples[index])
        return load_samples

    def unloading(self, unload: Callable[[Sequence[int]], None]) -> Callable[[Sequence[int]], None]:
        def unload_samples(indices: Sequence[int]) -> None:
            for index in indices:
                self._payloads.pop(index, None)
            unload(indices)
        return unload_samples

    # LoadGen callbacks
    def issue_queries(self, samples) -> None:
        try:
            items = [(s.id, s.index) for s in samples]
            for start in range(0, len(items), self.max_batchsize):
                with self._lock:
                    server = self._next
                    self._next = (server + 1) % len(self.servers)
                self._pools[server].submit(self._send, server, items[start:start + self.max_batchsize])
        except BaseException as exc:
            self.on_error(f"dispatching a query failed: {describe(exc)}")

    def flush_queries(self) -> None:
        pass

    # Work (in the server's connection pool)
    def _connection(self, server: int, fresh: bool = False) -> http.client.HTTPConnection:
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        if fresh or server not in conns:
            if server in conns:
                conns[server].close()
            host, port = _address(self.servers[server])
            conns[server] = _Connection(host, port, timeout=REQUEST_TIMEOUT_S)
        return conns[server]

    def _post(self, server: int, body: bytes, header: str):
        for attempt in (0, 1):  # a kept-alive connection the server closed: once more on a new one
            conn = self._connection(server, fresh=attempt == 1)
            try:
                conn.request("POST", "/predict", body=body, headers={
                    "Content-Type": "application/octet-stream", "X-Samples": header})
                reply = conn.getresponse()
                return reply.status, reply.getheader("X-Sizes"), reply.read()
            except (http.client.HTTPException, ConnectionError):
                if attempt:
                    raise

    def _send(self, server: int, items: List[Tuple[int, int]]) -> None:
        url = self.servers[server]
        try:
            payloads = [self._payloads[index] for _, index in items]
            status, sizes, data = self._post(server, b"".join(p[0] for p in payloads),
                                             "[" + ",".join(p[1] for p in payloads) + "]")
            if status != 200:
                reason = data[:300].decode("utf-8", "replace").strip().splitlines()
                raise HarnessError(f"HTTP {status}: {reason[0] if reason else 'no reason given'}")
            sizes = json.loads(sizes or "null")
            if not isinstance(sizes, list) or len(sizes) != len(items) or sum(sizes) != len(data):
                raise HarnessError(f"a reply for {len(items)} samples with X-Sizes {sizes!r} "
                                   f"and {len(data)} bytes")
            self._complete(items, data, sizes)
            with self._lock:
                self.requests[server] += 1
                self.samples[server] += len(items)
        except BaseException as exc:
            self.on_error(f"SUT server {url}: {describe(exc)}")

    def _complete(self, items, data: bytes, sizes: List[int]) -> None:
        import mlperf_loadgen as lg

        buffer = np.frombuffer(data, dtype=np.uint8)
        base, offset, responses = buffer.ctypes.data, 0, []
        for (sample_id, _), size in zip(items, sizes):
            responses.append(lg.QuerySampleResponse(sample_id, base + offset, size))
            offset += size
        (self._complete_fn or lg.QuerySamplesComplete)(responses)  # copies; ``data`` lives until here
        with self._lock:
            self.completed += len(items)

    def stats_line(self) -> str:
        each = ", ".join(f"{url}: {s} samples in {r} requests"
                         for url, r, s in zip(self.servers, self.requests, self.samples))
        return f"network QDL: {self.completed} samples ({each})"

    # LoadGen registration
    def construct(self):
        import mlperf_loadgen as lg

        self._handle = lg.ConstructQDL(self.issue_queries, self.flush_queries, self.name)
        return self._handle

    def destroy(self) -> None:
        for pool in self._pools:
            pool.shutdown(wait=True)
        if self._handle is not None:
            import mlperf_loadgen as lg

            lg.DestroyQDL(self._handle)
            self._handle = None
        self._payloads.clear()
