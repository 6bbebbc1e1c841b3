import ctypes
import threading
from collections import namedtuple

import numpy as np
import pytest

from mlperf_harness import sut as sut_module
from mlperf_harness.models.resnet50 import argmax_labels
from mlperf_harness.qsl import SampleLibrary
from mlperf_harness.sut import SystemUnderTest, gathers_ahead

Sample = namedtuple("Sample", "id index")


class FakeDataset:
    sample_shape = (2, 3)

    def __len__(self):
        return 50

    def load(self, index):
        return np.full(self.sample_shape, index, dtype=np.float32)


class FakeBackend:
    """'Predicts' class index+1 (like a 1001-class model) for each sample."""

    def __init__(self, fail_on=None):
        self.batches = []
        self.fail_on = fail_on
        self.lock = threading.Lock()

    def run(self, batch):
        with self.lock:
            self.batches.append(batch.shape[0])
        if self.fail_on is not None and (batch[:, 0, 0] == self.fail_on).any():
            raise ValueError("boom")
        return [batch[:, 0, 0].astype(np.int64) + 1]


class Collector:
    def __init__(self):
        self.got = {}
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.expected = 0

    def __call__(self, responses):
        with self.lock:
            for r in responses:
                raw = ctypes.string_at(r.data, r.size)  # valid only during the call
                self.got[r.id] = int(np.frombuffer(raw, dtype="<i4")[0])
            if len(self.got) >= self.expected:
                self.done.set()


def _sut(scenario, backend, collector, errors=None, max_batchsize=4, prefetch=False):
    qsl = SampleLibrary(FakeDataset(), perf_count=50, loader_threads=2)
    qsl.load_samples(list(range(50)))
    def on_error(message):
        if errors is None:
            raise AssertionError(message)
        errors.append(message)

    sut = SystemUnderTest(scenario, backend, qsl, argmax_labels(1), max_batchsize=max_batchsize,
                          complete=collector, on_error=on_error, prefetch=prefetch)
    return sut, qsl


@pytest.mark.parametrize("prefetch", [False, True])
@pytest.mark.parametrize("scenario", ["Offline", "SingleStream", "MultiStream", "Server"])
def test_every_sample_completed_with_its_label(scenario, prefetch):
    backend, collector = FakeBackend(), Collector()
    sut, _ = _sut(scenario, backend, collector, prefetch=prefetch)
    samples = [Sample(id=1000 + i, index=(i * 7) % 50) for i in range(30)]
    collector.expected = len(samples)
    if scenario == "Offline":
        sut.issue_queries(samples)
    elif scenario == "MultiStream":
        for start in range(0, 30, 8):
            sut.issue_queries(samples[start:start + 8])
    else:
        for s in samples:
            sut.issue_queries([s])
    assert collector.done.wait(10)
    sut.destroy()
    assert collector.got == {s.id: s.index for s in samples}
    assert max(backend.batches) <= (1 if scenario == "SingleStream" else 4)
    if scenario == "Offline":
        assert backend.batches == [4] * 7 + [2]


def test_failure_is_reported_not_raised():
    errors = []
    backend, collector = FakeBackend(fail_on=3), Collector()
    sut, _ = _sut("SingleStream", backend, collector, errors)
    sut.issue_queries([Sample(1, 3)])
    assert errors and "inference failed" in errors[0] and "boom" in errors[0]
    sut.destroy()


@pytest.mark.parametrize("prefetch", [False, True])
def test_failure_in_worker_is_reported(prefetch):
    errors = []
    backend, collector = FakeBackend(fail_on=3), Collector()
    sut, _ = _sut("Offline", backend, collector, errors, prefetch=prefetch)
    sut.issue_queries([Sample(i, i) for i in range(8)])
    sut.destroy()  # joins the workers
    assert errors and "boom" in errors[0]


def test_qsl_load_gather_unload():
    qsl = SampleLibrary(FakeDataset(), perf_count=10, loader_threads=2)
    qsl.load_samples([3, 1, 3])
    assert qsl.loaded() == [1, 3]
    one = qsl.gather([3])
    assert one.shape == (1, 2, 3) and np.shares_memory(one, qsl.samples[3])
    batch = qsl.gather([1, 3, 1])
    assert batch.shape == (3, 2, 3) and list(batch[:, 0, 0]) == [1, 3, 1]
    qsl.unload_samples([1, 3])
    assert qsl.loaded() == []


def test_qsl_packs_a_uniform_load_and_gathers_the_same_batches():
    """A load of samples of one shape is packed (each sample a view of its row) and gathers
    exactly what stacking the samples gives; an unloaded index is still a KeyError."""
    qsl = SampleLibrary(FakeDataset(), perf_count=10, loader_threads=2)
    qsl.load_samples([4, 9, 2, 7])
    pack = qsl._packed[0]
    assert pack.shape == (4, 2, 3) and all(np.shares_memory(qsl.samples[i], pack) for i in (4, 9, 2, 7))
    order = [7, 2, 7, 9, 4]
    expected = np.stack([FakeDataset().load(i) for i in order])
    assert np.array_equal(qsl.gather(order), expected)
    assert np.array_equal(qsl.gather(tuple(order), slot=1), expected)
    with pytest.raises(KeyError):
        qsl.gather([2, 3])  # 3 was never loaded
    qsl.unload_samples([9])
    with pytest.raises(KeyError):
        qsl.gather([2, 9])  # 9 no longer is
    assert np.array_equal(qsl.gather([2, 4]), expected[[1, 4]])
    qsl.unload_samples([4, 2, 7])
    assert qsl._packed is None and qsl.loaded() == []


def test_qsl_keeps_samples_of_differing_shapes_as_loaded():
    class Ragged(FakeDataset):
        def load(self, index):
            return np.full((index % 3 + 1, 3), index, dtype=np.float32)

    qsl = SampleLibrary(Ragged(), perf_count=10, loader_threads=2)
    qsl.load_samples([0, 3, 1])
    assert qsl._packed is None
    assert qsl.gather([0, 3]).tolist() == [[[0, 0, 0]], [[3, 3, 3]]]  # same shape: stacked
    with pytest.raises(ValueError):
        qsl.gather([0, 1])  # as np.stack says of differing shapes


def test_qsl_second_load_is_not_packed_and_both_gather():
    """A pack holds one load: a load into a non-empty library drops it (its samples stay
    valid views) and batches are stacked from then on."""
    qsl = SampleLibrary(FakeDataset(), perf_count=10, loader_threads=2)
    qsl.load_samples([1, 2])
    assert qsl._packed is not None
    qsl.load_samples([3, 2])
    assert qsl._packed is None and qsl.loaded() == [1, 2, 3]
    assert list(qsl.gather([3, 1, 2])[:, 0, 0]) == [3, 1, 2]


_LOADGEN_FAILURE = """
import sys
import numpy as np
from mlperf_harness import loadgen_settings
from mlperf_harness.models.resnet50 import argmax_labels
from mlperf_harness.qsl import SampleLibrary
from mlperf_harness.sut import SystemUnderTest
import mlperf_loadgen as lg

class Dataset:
    sample_shape = (2,)
    def __len__(self): return 16
    def load(self, i): return np.zeros(2, np.float32)

class Backend:
    calls = 0
    def run(self, batch):
        Backend.calls += 1
        if Backend.calls > 3:
            raise RuntimeError("device lost")
        return [np.ones(len(batch), np.int64)]

scenario, outdir, conf = sys.argv[1], sys.argv[2], sys.argv[3]
open(conf, "w").write(loadgen_settings.user_conf_text("resnet50", scenario, "test", 16, 1024, 64))
settings = loadgen_settings.build_test_settings("resnet50", scenario, "performance", conf)
qsl = SampleLibrary(Dataset(), 16)
sut = SystemUnderTest(scenario, Backend(), qsl, argmax_labels(1), max_batchsize=2)
lg.StartTestWithLogSettings(sut.construct(), qsl.construct(), settings,
                            loadgen_settings.build_log_settings(outdir), outdir + "/none")
print("StartTest returned")
"""


@pytest.mark.parametrize("scenario", ["SingleStream", "Offline"])
def test_failing_backend_under_loadgen_exits_cleanly(tmp_path, scenario):
    """A backend failing mid-test must end the process with one error line:
    no hang (uncompleted query) and no abort (exception in a callback)."""
    from harness_test_support import run_python

    proc = run_python(["-c", _LOADGEN_FAILURE, scenario, tmp_path, tmp_path / "user.conf"])
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "StartTest returned" not in proc.stdout
    assert proc.stderr.strip().splitlines() == ["error: inference failed: RuntimeError: device lost"]


class SlowBackend(FakeBackend):
    def run(self, batch):
        import time

        time.sleep(0.02)
        return super().run(batch)


@pytest.mark.parametrize("prefetch", [False, True])
def test_server_never_blocks_the_issue_thread_and_coalesces(prefetch):
    """Server: issue_queries only queues (LoadGen's schedule must not wait for
    inference); the worker batches whatever queued up meanwhile, up to max-batchsize."""
    import time

    backend, collector = SlowBackend(), Collector()
    sut, _ = _sut("Server", backend, collector, max_batchsize=8, prefetch=prefetch)
    samples = [Sample(id=i, index=i % 50) for i in range(40)]
    collector.expected = len(samples)
    slowest = 0.0
    for s in samples:
        start = time.perf_counter()
        sut.issue_queries([s])
        slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 0.01  # one inference takes 20 ms
    assert collector.done.wait(10)
    sut.destroy()
    assert collector.got == {s.id: s.index for s in samples}
    assert max(backend.batches) == 8 and len(backend.batches) < 40


def test_tuple_samples_are_gathered_per_input():
    class Pairs:
        sample_spec = [((2,), np.int64), ((2,), np.int64)]

        def __len__(self):
            return 4

        def load(self, index):
            return np.full(2, index, np.int64), np.full(2, -index, np.int64)

    qsl = SampleLibrary(Pairs(), perf_count=4, loader_threads=1)
    qsl.load_samples([0, 1, 2, 3])
    one = qsl.gather([2])
    assert isinstance(one, tuple) and one[0].shape == (1, 2) and one[1][0, 0] == -2
    a, b = qsl.gather([3, 1])
    assert a.tolist() == [[3, 3], [1, 1]] and b.tolist() == [[-3, -3], [-1, -1]]
    assert len(qsl._packed) == 2  # one array per input


def test_prefetched_batches_are_not_overwritten_while_running():
    """Prefetch gathers ahead into a fixed set of buffers: each batch the backend
    sees must still hold its own samples when it runs."""
    import time

    class Checking(FakeBackend):
        def run(self, batch):
            first = batch[:, 0, 0].copy()
            time.sleep(0.005)  # the gatherer runs ahead meanwhile
            assert (batch[:, 0, 0] == first).all(), "batch overwritten"
            return super().run(batch)

    errors = []
    backend, collector = Checking(), Collector()
    sut, _ = _sut("Offline", backend, collector, errors, max_batchsize=4, prefetch=True)
    samples = [Sample(id=i, index=(i * 13) % 50) for i in range(120)]
    collector.expected = len(samples)
    sut.issue_queries(samples)
    assert collector.done.wait(10)
    sut.destroy()
    assert not errors and collector.got == {s.id: s.index for s in samples}


def test_prefetch_auto_is_on_only_where_the_framework_leaves_a_cpu_free():
    assert gathers_ahead("auto", "cpu", threads=1, cpus=2)
    assert gathers_ahead("auto", "cpu", threads=15, cpus=16)
    assert not gathers_ahead("auto", "cpu", threads=2, cpus=2)  # the framework has every CPU
    assert not gathers_ahead("auto", "cpu", threads=None, cpus=2)  # its own default: every CPU
    assert not gathers_ahead("auto", "cuda", threads=1, cpus=16)  # two workers overlap already
    assert gathers_ahead("on", "cpu", threads=None, cpus=1)
    assert not gathers_ahead("off", "cpu", threads=1, cpus=8)


@pytest.mark.parametrize("cpu_max, expected", [("max 100000", 3), ("150000 100000", 2),
                                                ("100000 100000", 1), ("1000 100000", 1),
                                                ("800000 100000", 3), (None, 3)])
def test_usable_cpus_is_the_affinity_capped_by_the_cgroup_quota(tmp_path, monkeypatch, cpu_max, expected):
    monkeypatch.setattr(sut_module.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    path = tmp_path / "cpu.max"
    if cpu_max is not None:  # None: no cgroup v2 file (cgroup v1, or not mounted)
        path.write_text(cpu_max + "\n")
    monkeypatch.setattr(sut_module, "CGROUP_CPU_MAX", str(path))
    assert sut_module.usable_cpus() == expected
