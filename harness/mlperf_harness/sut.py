"""The system under test: LoadGen queries -> backend batches -> responses.

Dispatch per scenario:
- SingleStream: one sample per query, run inline in LoadGen's callback (the
  lowest-latency path; LoadGen waits for it anyway).
- MultiStream: one query of N samples at a time, LoadGen issues the next
  only after it completes: run inline, in max-batchsize chunks.
- Offline: one huge query: queued to a WorkerPool, which runs it in
  max-batchsize chunks; issue_queries returns at once.
- Server: queries arrive on a schedule: each is queued to the WorkerPool,
  which batches by size (max-batchsize) and by time (``batch_timeout_s``: a
  free worker waits at most that long after the oldest waiting sample for
  the batch to fill; see :func:`server_batch_timeout_s`), adapted to the
  measured batch compute time within half of ``latency_bound_s`` (workers.py).
With ``prefetch`` one thread gathers the next batch (copies the samples
together) while the workers run the current one. ``--prefetch auto`` (the
default, :func:`gathers_ahead`) turns it on for a CPU run whose framework
threads (``--threads``) leave a CPU free: the copy then runs beside the
inference instead of before it (resnet50's stand-in on 2 CPUs, 1 framework
thread: about 1.5x the Offline throughput). With the framework on every
CPU, the copy would only take cores from it (resnet50, on: 0.80x raw; off: 0.89x).
Accelerators already overlap it with two workers. benchmarks/run.py
measures both.

Each sample's response is the postprocessed result row (for resnet50 one
int32 label; for bert float32 [384, 2] start/end logits), or, for models whose
responses differ in size (retinanet's detections), one array per sample from
``responses(outputs, qsl_indices)``. ``infer(backend, batch)`` replaces
``backend.run`` where one sample takes more than one model call (3d-unet's
sliding window). The result arrays back the response pointers and are kept
alive until QuerySamplesComplete returns. Per sample, the SUT does as little
Python as it can: LoadGen hands it (id, index) lists (ConstructFastSUT: no
QuerySample objects), a query of more than one sample is queued as those two
lists (:class:`Samples`: an Offline query of 10^4 samples is sliced into
batches, never made into pairs), and with LoadGen's own QuerySamplesComplete (which
copies the responses) each thread reuses its QuerySampleResponse objects for a
batch, setting only id and data (building 32 of them costs ~40 us, 5% of a bert
batch). Any failure calls ``on_error``
(default: print one ``error:`` line and exit the process), because an
exception escaping a LoadGen callback aborts and an uncompleted query hangs.
"""

from __future__ import annotations

import math
import os
import queue
import threading
from typing import Callable, Optional, Sequence

import numpy as np

from mlperf_harness.errors import abort, describe
from mlperf_harness.workers import WorkerPool

INLINE_SCENARIOS = ("SingleStream", "MultiStream")
POOLED_SCENARIOS = ("Offline", "Server")

# The default Server batching timeout, as a fraction of the latency bound: a
# batch waits at most this long to fill, leaving the rest of the bound to the
# inference itself and to queueing behind the batch before it.
BATCH_TIMEOUT_FRACTION = 0.05
# cgroup v2's CPU quota of this process's group ("max 100000", or "200000 100000": 2 CPUs)
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity, capped by a cgroup v2 CPU quota
    (docker --cpus) where one is set."""
    cpus = len(os.sched_getaffinity(0))
    try:
        with open(CGROUP_CPU_MAX) as limits:
            quota, period = limits.read().split()
    except (OSError, ValueError):
        return cpus
    if quota == "max":
        return cpus
    return max(1, min(cpus, math.ceil(int(quota) / int(period))))


def gathers_ahead(prefetch: str, device: str, threads: Optional[int],
                  cpus: Optional[int] = None) -> bool:
    """--prefetch (on, off, auto) -> whether a thread gathers batches ahead. auto: on for a
    CPU run whose framework threads leave one of the ``cpus`` (default: usable_cpus())
    free; off where the framework takes every CPU (its own default, --threads unset) and
    on accelerators (two workers overlap the gather already)."""
    if prefetch != "auto":
        return prefetch == "on"
    if device != "cpu" or threads is None:
        return False
    return threads < (usable_cpus() if cpus is None else cpus)


def server_batch_timeout_s(latency_bound_ns: int, override_ms: Optional[float] = None) -> float:
    """The Server batching timeout in seconds: ``override_ms`` when given
    (``batch_timeout_ms``; 0 = run whatever is waiting at once), else
    BATCH_TIMEOUT_FRACTION of the latency bound."""
    if override_ms is not None:
        return max(0.0, float(override_ms)) / 1e3
    return BATCH_TIMEOUT_FRACTION * max(0, int(latency_bound_ns)) / 1e9


class Samples:
    """(id, index) pairs held as two lists; a slice is two list slices."""

    __slots__ = ("ids", "indices")

    def __init__(self, ids: Sequence[int], indices: Sequence[int]) -> None:
        self.ids, self.indices = ids, indices

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return Samples(self.ids[key], self.indices[key])
        return self.ids[key], self.indices[key]

    def __iter__(self):
        return zip(self.ids, self.indices)


def split(samples) -> tuple:
    """(ids, indices) of a :class:`Samples` or of a sequence of (id, index) pairs."""
    if isinstance(samples, Samples):
        return samples.ids, samples.indices
    return [s[0] for s in samples], [s[1] for s in samples]


class SystemUnderTest:
    def __init__(
        self,
        scenario: str,
        backend,
        qsl,
        postprocess: Callable[[Sequence[np.ndarray]], np.ndarray],
        max_batchsize: int = 32,
        workers: int = 1,
        complete: Optional[Callable] = None,
        on_error: Callable[[str], None] = abort,
        prefetch: bool = False,
        batch_timeout_s: float = 0.0,
        infer: Optional[Callable] = None,
        responses: Optional[Callable] = None,
        latency_bound_s: float = 0.0,
    ) -> None:
        import mlperf_loadgen as lg

        if scenario not in INLINE_SCENARIOS + POOLED_SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}")
        self.scenario = scenario
        self.backend = backend
        self.qsl = qsl
        self.postprocess = postprocess
        self.infer = infer or (lambda backend, batch: backend.run(batch))
        self.responses = responses
        # SingleStream's lean path fits models answered by backend.run + postprocess alone.
        self._lean = infer is None and responses is None
        self.max_batchsize = max(1, max_batchsize)
        self.on_error = on_error
        self._response = lg.QuerySampleResponse
        self._complete_fn = complete or lg.QuerySamplesComplete
        # LoadGen copies the responses it is given: reuse them (a test's collector may keep them)
        self._reuse = complete is None
        self._local = threading.local()
        self.completed = 0
        self.batches = 0
        self.largest_batch = 0
        self._stats = threading.Lock()
        self.pool: Optional[WorkerPool] = None
        if scenario in POOLED_SCENARIOS:
            self.pool = WorkerPool(self._execute, workers=workers, max_batch=self.max_batchsize,
                                   timeout=batch_timeout_s if scenario == "Server" else 0.0,
                                   on_error=on_error, prepare=self._prepare if prefetch else None,
                                   budget=latency_bound_s / 2 if scenario == "Server" else 0.0)
        # Offline: the responses are made and handed to LoadGen on a thread of their own, while
        # the worker runs the next batch (the framework releases the GIL): the worker runs
        # gather + inference + postprocess only, as a bare loop does. Server completes inline
        # (a thread hop is latency).
        self._completer: Optional[queue.SimpleQueue] = None
        self._completer_thread: Optional[threading.Thread] = None
        if scenario == "Offline":
            self._completer = queue.SimpleQueue()
            self._completer_thread = threading.Thread(target=self._complete_loop,
                                                      name="sut-complete", daemon=True)
            self._completer_thread.start()
        self._handle = None

    # LoadGen callbacks -------------------------------------------------
    def issue_queries(self, samples) -> None:
        """LoadGen's QuerySample objects (or anything with .id and .index)."""
        self.issue([s.id for s in samples], [s.index for s in samples])

    def issue(self, ids, indices) -> None:
        """The fast callback (ConstructFastSUT): ids and indices, two lists of ints."""
        try:
            if self.pool is not None:
                self.pool.submit([(ids[0], indices[0])] if len(ids) == 1 else Samples(ids, indices))
            elif len(ids) == 1 and self._lean:
                self._run_one(ids[0], indices[0])
            else:
                pairs = list(zip(ids, indices))
                for start in range(0, len(pairs), self.max_batchsize):
                    self.run_batch(pairs[start:start + self.max_batchsize])
        except BaseException as exc:
            self.on_error(f"inference failed: {describe(exc)}")

    def flush_queries(self) -> None:
        pass

    # Work ----------------------------------------------------------------
    def run_batch(self, samples: Sequence) -> None:
        """``samples``: (id, index) pairs."""
        self._execute(samples, self.qsl.gather([s[1] for s in samples]))

    def _prepare(self, samples: Sequence, slot: int):
        return self.qsl.gather(split(samples)[1], slot=slot)

    def _run_one(self, sample_id: int, index: int) -> None:
        """SingleStream's path: one sample, inline on LoadGen's thread (nothing else
        runs meanwhile, so no lock), as little Python as possible around the backend."""
        results = np.ascontiguousarray(self.postprocess(self.backend.run(self.qsl.gather((index,)))))
        if results.shape[0] != 1:
            raise RuntimeError(f"backend returned {results.shape[0]} results for a batch of 1")
        # one new response (0.6 us): reusing one saves 0.2 us and costs more in lookups
        self._complete_fn([self._response(sample_id, results.ctypes.data, results.nbytes)])
        self.completed += 1
        self.batches += 1
        self.largest_batch = 1

    def _execute(self, samples: Sequence, batch=None) -> None:
        ids, indices = split(samples)
        if batch is None:
            batch = self.qsl.gather(indices)
        outputs = self.infer(self.backend, batch)
        if self.responses is not None:
            results = self.responses(outputs, indices)
        else:
            results = self.postprocess(outputs)
        if self._completer is not None:
            self._completer.put((ids, results))
        else:
            self._finish(ids, results)
        with self._stats:
            self.batches += 1
            if len(samples) > self.largest_batch:
                self.largest_batch = len(samples)

    def stats_line(self) -> str:
        return (f"sut: {self.completed} samples in {self.batches} batches, largest batch "
                f"{self.largest_batch} (max-batchsize {self.max_batchsize})")

    def _reusable(self, size: int, count: int) -> list:
        """This thread's QuerySampleResponse objects of ``size`` bytes, at least ``count``
        (LoadGen's QuerySamplesComplete copies them: they are free again once it returns)."""
        spare = getattr(self._local, "spare", None)
        if spare is None:
            spare = self._local.spare = {}
        responses = spare.get(size)
        if responses is None or len(responses) < count:
            responses = spare[size] = [self._response(0, 0, size) for _ in range(
                max(count, self.max_batchsize))]
        return responses

    def complete(self, samples: Sequence, results) -> None:
        """``samples``: (id, index) pairs (or :class:`Samples`); ``results``: one array
        [N, ...] (equal sizes), or a list of N arrays (any sizes)."""
        self._finish(split(samples)[0], results)

    def _finish(self, ids: Sequence[int], results) -> None:
        """Hand LoadGen the responses of the samples ``ids`` (see :meth:`complete`)."""
        count = len(ids)
        if isinstance(results, (list, tuple)):
            arrays = [np.ascontiguousarray(r) for r in results]
            if len(arrays) != count:
                raise RuntimeError(f"backend returned {len(arrays)} results for a batch of {count}")
            responses = [self._response(i, a.ctypes.data, a.nbytes) for i, a in zip(ids, arrays)]
        else:
            results = np.ascontiguousarray(results)
            if results.shape[0] != count:
                raise RuntimeError(f"backend returned {results.shape[0]} results for a batch "
                                   f"of {count}")
            size = results.nbytes // count
            address = results.ctypes.data
            if self._reuse:
                responses = self._reusable(size, count)[:count]
                for response, sample_id in zip(responses, ids):
                    response.id, response.data = sample_id, address
                    address += size
            else:
                responses = [self._response(i, address + n * size, size) for n, i in enumerate(ids)]
        self._complete_fn(responses)  # copies the bytes; the arrays live until here
        with self._stats:
            self.completed += count

    # LoadGen registration --------------------------------------------------
    def construct(self):
        import mlperf_loadgen as lg

        self._handle = lg.ConstructFastSUT(self.issue, self.flush_queries)
        return self._handle

    def _complete_loop(self) -> None:
        failed = False
        while True:
            item = self._completer.get()
            if item is None:
                return
            try:
                if not failed:
                    self._finish(*item)
            except BaseException as exc:  # never leave a query uncompleted silently
                failed = True
                self.on_error(f"inference failed: {describe(exc)}")

    def destroy(self) -> None:
        if self._handle is not None:
            import mlperf_loadgen as lg

            lg.DestroyFastSUT(self._handle)
            self._handle = None
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        if self._completer_thread is not None:
            self._completer.put(None)  # after the pool's last batch: completes what is queued
            self._completer_thread.join()
            self._completer_thread = None
