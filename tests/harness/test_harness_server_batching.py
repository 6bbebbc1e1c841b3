"""The worker pool's batching: by size and by time, and LoadGen's thread never waits.

No timed assertions: a backend that blocks until released makes the order of
events deterministic; timeouts are either huge (never reached) or tiny (reached)."""

import threading
from collections import namedtuple

import numpy as np
import pytest

from mlperf_harness.models.resnet50 import argmax_labels
from mlperf_harness.qsl import SampleLibrary
from mlperf_harness.sut import BATCH_TIMEOUT_FRACTION, SystemUnderTest, server_batch_timeout_s
from mlperf_harness.workers import WorkerPool

Sample = namedtuple("Sample", "id index")
WAIT = 30  # seconds: only a hang gets anywhere near it


class Recorder:
    """A handler that records batch sizes; it can hold the first batch until released."""

    def __init__(self, hold_first=False):
        self.sizes = []
        self.lock = threading.Lock()
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()
        self.changed = threading.Condition()

    def __call__(self, batch, prepared=None):
        self.started.set()
        self.release.wait(WAIT)
        with self.changed:
            self.sizes.append(len(batch))
            self.changed.notify_all()

    def wait_for(self, total):
        with self.changed:
            assert self.changed.wait_for(lambda: sum(self.sizes) >= total, WAIT), self.sizes


def test_full_batches_go_at_once_and_the_rest_waits_for_the_timeout():
    handler = Recorder()
    pool = WorkerPool(handler, max_batch=4, timeout=3600.0)  # the timeout is never reached
    for n in range(10):
        pool.submit([n])
    handler.wait_for(8)
    assert handler.sizes == [4, 4]  # the last 2 wait for more samples (or the timeout)
    pool.close()  # closing runs what is still waiting
    assert handler.sizes == [4, 4, 2]


def test_a_partial_batch_goes_when_its_oldest_sample_has_waited_the_timeout():
    handler = Recorder()
    pool = WorkerPool(handler, max_batch=64, timeout=0.01)
    pool.submit([1, 2])
    pool.submit([3])
    handler.wait_for(3)  # no close(): only the timeout can have sent it
    assert handler.sizes == [3]
    pool.close()


def test_a_timeout_of_zero_runs_whatever_is_waiting():
    handler = Recorder(hold_first=True)
    pool = WorkerPool(handler, max_batch=8, timeout=0.0)
    pool.submit([0])
    assert handler.started.wait(WAIT)  # the first sample went alone, at once
    for n in range(1, 20):
        pool.submit([n])  # pile up behind the busy worker
    handler.release.set()
    handler.wait_for(20)
    assert handler.sizes == [1, 8, 8, 3]
    pool.close()


def test_a_big_submit_is_cut_into_slices_of_itself():
    """An Offline query (10^4 samples) costs no per-sample Python to queue or to split:
    each batch is a slice of the submitted sequence (a range stays a range), and a batch
    spanning submits is a list of their items."""
    got = []
    pool = WorkerPool(got.append, max_batch=4, timeout=0.0)
    pool.submit(range(10))
    pool.close()
    assert got == [range(0, 4), range(4, 8), range(8, 10)]
    handler = Recorder(hold_first=True)
    pool = WorkerPool(handler, max_batch=4, timeout=0.0)
    pool.submit(["a"])
    assert handler.started.wait(WAIT)
    pool.submit(range(3))
    pool.submit(["b", "c"])  # waiting: 0, 1, 2, b, c
    batches = []
    pool.handler = lambda batch: batches.append(batch)
    handler.release.set()
    pool.close()
    assert batches == [[0, 1, 2, "b"], ["c"]]


def test_the_oldest_sample_sets_the_deadline_with_a_fake_clock():
    """The pool reads time only through ``clock``: frozen here, and moved by hand. Had
    the newest sample set the deadline, the batch would wait for a time that never comes."""
    now = [0.0]
    handler = Recorder()
    pool = WorkerPool(handler, max_batch=8, timeout=0.2, clock=lambda: now[0])
    pool.submit(["a", "b"])  # oldest: t = 0, due at t = 0.2
    now[0] = 0.15
    pool.submit(["c"])  # due at 0.35 by its own clock, which never comes
    now[0] = 0.2
    handler.wait_for(3)
    assert handler.sizes == [3]
    pool.close()


def _server_sut(backend, collector, max_batchsize, timeout_s, prefetch):
    class Dataset:
        sample_shape = (2,)

        def __len__(self):
            return 64

        def load(self, index):
            return np.full(2, index, np.float32)

    qsl = SampleLibrary(Dataset(), perf_count=64, loader_threads=1)
    qsl.load_samples(list(range(64)))
    return SystemUnderTest("Server", backend, qsl, argmax_labels(0), max_batchsize=max_batchsize,
                           complete=collector, prefetch=prefetch, batch_timeout_s=timeout_s)


class BlockingBackend:
    def __init__(self):
        self.release = threading.Event()
        self.sizes = []

    def run(self, batch):
        self.release.wait(WAIT)
        self.sizes.append(batch.shape[0])
        return [batch[:, 0].astype(np.int64)]


@pytest.mark.parametrize("prefetch", [False, True])
@pytest.mark.parametrize("timeout_s", [0.0, 0.005])
def test_issue_queries_returns_while_the_backend_is_stuck(prefetch, timeout_s):
    """Every issue_queries call returns although no inference can finish: it only queues."""
    done = {}
    all_done = threading.Event()

    def collect(responses):
        for r in responses:
            done[r.id] = True
        if len(done) == 50:
            all_done.set()

    backend = BlockingBackend()
    sut = _server_sut(backend, collect, 8, timeout_s, prefetch)
    for n in range(50):
        sut.issue_queries([Sample(id=n, index=n)])  # would hang here if it waited
    assert not done
    backend.release.set()
    assert all_done.wait(WAIT)
    sut.destroy()
    assert max(backend.sizes) <= 8 and sum(backend.sizes) == 50
    assert len(backend.sizes) < 50  # the queries that piled up were batched


def test_default_timeout_is_a_fraction_of_the_latency_bound():
    assert server_batch_timeout_s(15_000_000) == pytest.approx(BATCH_TIMEOUT_FRACTION * 0.015)
    assert server_batch_timeout_s(15_000_000, 2.0) == pytest.approx(0.002)
    assert server_batch_timeout_s(15_000_000, 0.0) == 0.0


class ClockedHandler(Recorder):
    """A fake backend on a fake clock: each batch takes ``per_sample`` s a sample."""

    def __init__(self, now, per_sample):
        super().__init__()
        self.now, self.per_sample = now, per_sample

    def __call__(self, batch, prepared=None):
        self.now[0] += self.per_sample * len(batch)
        super().__call__(batch, prepared)


def test_the_wait_adapts_to_the_measured_batch_compute_time():
    """With a budget, a free worker waits at most min(timeout, full, budget - full),
    ``full`` the measured compute of a full batch; until it is measured, the timeout."""
    now = [0.0]
    handler = ClockedHandler(now, per_sample=0.001)  # a full batch of 8: 8 ms
    pool = WorkerPool(handler, max_batch=8, timeout=0.05, clock=lambda: now[0], budget=0.1)
    assert pool.wait_limit() == 0.05  # nothing measured yet
    pool.submit(list(range(8)))  # a full batch goes at once and is timed
    handler.wait_for(8)
    assert pool.per_sample == pytest.approx(0.001)
    assert pool.wait_limit() == pytest.approx(0.008)  # waiting longer than a full batch never pays
    pool.budget = 0.012
    assert pool.wait_limit() == pytest.approx(0.004)  # the budget left after a full batch
    pool.budget = 0.006
    assert pool.wait_limit() == 0.0  # less budget than a batch's compute: never wait
    pool.submit(["late"])  # so it goes at once, on a frozen clock
    handler.wait_for(9)
    assert handler.sizes == [8, 1]
    pool.close()


def test_without_a_budget_the_timeout_is_the_wait():
    now = [0.0]
    handler = ClockedHandler(now, per_sample=0.001)
    pool = WorkerPool(handler, max_batch=8, timeout=0.05, clock=lambda: now[0])
    pool.submit(list(range(8)))
    handler.wait_for(8)
    assert pool.per_sample is None and pool.wait_limit() == 0.05
    pool.close()


def test_the_server_sut_gives_the_pool_half_the_latency_bound():
    class Dataset:
        sample_shape = (2,)

        def __len__(self):
            return 4

        def load(self, index):
            return np.zeros(2, np.float32)

    qsl = SampleLibrary(Dataset(), perf_count=4, loader_threads=1)
    sut = SystemUnderTest("Server", BlockingBackend(), qsl, argmax_labels(0), complete=print,
                          batch_timeout_s=0.001, latency_bound_s=0.015)
    assert sut.pool.budget == pytest.approx(0.0075) and sut.pool.timeout == pytest.approx(0.001)
    sut.destroy()


@pytest.mark.parametrize("scenario, thread", [("Offline", "sut-complete"), ("Server", "sut-worker-0")])
def test_offline_completes_on_its_own_thread_and_destroy_drains_it(scenario, thread):
    """Offline: the worker only runs batches; responses go to LoadGen from a thread of their
    own (Server: inline, no hop). destroy() returns only once every sample is completed."""
    class Dataset:
        sample_shape = (2,)

        def __len__(self):
            return 64

        def load(self, index):
            return np.full(2, index, np.float32)

    seen, threads = [], set()

    def collect(responses):
        threads.add(threading.current_thread().name)
        seen.extend(r.id for r in responses)

    backend = BlockingBackend()
    backend.release.set()
    qsl = SampleLibrary(Dataset(), perf_count=64, loader_threads=1)
    qsl.load_samples(list(range(64)))
    sut = SystemUnderTest(scenario, backend, qsl, argmax_labels(0), max_batchsize=8,
                          complete=collect)
    sut.issue_queries([Sample(id=100 + n, index=n) for n in range(50)])
    sut.destroy()
    assert sorted(seen) == list(range(100, 150)) and sut.completed == 50
    assert threads == {thread}
