"""benchmarks/: the pinning its Offline rounds rely on, and one short run of the whole command."""

import json
import os
import sys
import threading

import pytest

from harness_test_support import REPO, run_python

sys.path.insert(0, str(REPO / "benchmarks"))
import bench  # noqa: E402

pytest.importorskip("onnxruntime")


class Recording:
    """A backend that records the CPUs its calling thread may run on."""

    def __init__(self):
        self.seen = []

    def run(self, batch):
        self.seen.append((threading.current_thread().name, os.sched_getaffinity(0)))
        return batch


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning apart needs 2 CPUs")
def test_pinned_backend_moves_only_the_framework_thread():
    cpus = sorted(os.sched_getaffinity(0))
    case = bench.Case.__new__(bench.Case)  # only what pin() touches
    case.backend, case.peer, case.replay = bench.Pinned(Recording()), None, None
    case.cpus = cpus
    before = os.sched_getaffinity(0)
    try:
        case.pin(cpus[-1])
        assert os.sched_getaffinity(0) == set(cpus) - {cpus[-1]}  # the rest of the process
        thread = threading.Thread(target=lambda: [case.backend.run(None) for _ in range(2)], name="w")
        thread.start()
        thread.join()
        assert case.backend.seen == [("w", {cpus[-1]})] * 2
        case.pin(None)
        assert os.sched_getaffinity(0) == set(cpus)
        thread = threading.Thread(target=lambda: case.backend.run(None), name="free")
        thread.start()
        thread.join()
        assert case.backend.seen[-1] == ("free", set(cpus))
    finally:
        os.sched_setaffinity(0, before)


def test_benchmark_command_prints_the_table_and_writes_every_reading(tmp_path):
    out = tmp_path / "bench.json"
    done = run_python([REPO / "benchmarks" / "run.py", "--models", "bert", "--backends", "onnxruntime",
                       "--rounds", "2", "--pairs", "2", "--server-rounds", "0", "--threads", "1",
                       "--singlestream-queries", "50", "--json", out], timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "bert  | onnxruntime" in done.stdout
    row, = json.loads(out.read_text())["rows"]
    assert len(row["offline_pairs_samples_per_s"]) == 2 and row["offline_harness_over_raw"]["n"] == 2
    pinned = len(os.sched_getaffinity(0)) > 1
    cpus = sorted(os.sched_getaffinity(0))
    assert row["framework_cpu_per_round"] == (cpus[:2] if pinned else [None, None])
