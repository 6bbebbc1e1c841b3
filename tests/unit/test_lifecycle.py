"""Positive completion, the per-configuration lock and --clean (launcher/lifecycle.py)."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from launcher.run import lifecycle as lc
from launcher.errors import RunInProgress

PERF = "Scenario : Offline\nSamples per second: 100\nResult is : VALID\n"


def fill(run_dir, scenarios=("Offline",), modes=("performance", "accuracy"), signature="sig"):
    (run_dir / lc.RUN_RECORD).parent.mkdir(parents=True, exist_ok=True)
    (run_dir / lc.RUN_RECORD).write_text(json.dumps({"signature": signature}))
    for scenario in scenarios:
        base = run_dir / "sys" / "resnet50" / scenario
        if "performance" in modes:
            perf = base / "performance" / "run_1"
            perf.mkdir(parents=True)
            (perf / "mlperf_log_summary.txt").write_text(PERF)
            (perf / "mlperf_log_detail.txt").write_text(":::MLLOG {}\n")
        if "accuracy" in modes:
            acc = base / "accuracy"
            acc.mkdir(parents=True)
            (acc / "mlperf_log_summary.txt").write_text("Scenario : Offline\n")
            (acc / "mlperf_log_detail.txt").write_text(":::MLLOG {}\n")
            (acc / "mlperf_log_accuracy.json").write_text("[]\n")
            (acc / "accuracy.txt").write_text("accuracy=75.000%\n")
    return run_dir


def test_complete_only_after_the_record_and_while_it_matches(tmp_path):
    run_dir = fill(tmp_path / "run")
    assert not lc.is_complete(run_dir)
    record = lc.write_complete(run_dir, ["Offline"], "both")
    assert "run.json" in record["files"] and "COMPLETE" not in record["files"]
    assert lc.is_complete(run_dir)
    summary = run_dir / "sys/resnet50/Offline/performance/run_1/mlperf_log_summary.txt"
    summary.write_text(PERF.replace("VALID", "INVALID"))  # same size, other contents
    assert not lc.is_complete(run_dir)
    summary.write_text(PERF)
    assert lc.is_complete(run_dir)
    (run_dir / "extra.txt").write_text("x")  # a file added afterwards
    assert not lc.is_complete(run_dir)
    (run_dir / "extra.txt").unlink()
    (run_dir / lc.COMPLETE).write_text("{not json")
    assert not lc.is_complete(run_dir)
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("damage, reason", [
    (lambda d: (d / "sys/resnet50/Offline/performance/run_1/mlperf_log_summary.txt").write_text(""),
     "has no 'Result is' line"),
    (lambda d: (d / "sys/resnet50/Offline/performance/run_1/mlperf_log_detail.txt").write_text(""),
     "mlperf_log_detail.txt missing or empty"),
    (lambda d: (d / "sys/resnet50/Offline/accuracy/accuracy.txt").unlink(), "accuracy.txt missing or empty"),
    (lambda d: (d / "sys/resnet50/Offline/accuracy/mlperf_log_accuracy.json").write_text("[{\"qsl"),
     "mlperf_log_accuracy.json missing or not JSON"),
])
def test_unfinished_outputs_are_incomplete_with_the_reason(tmp_path, damage, reason):
    run_dir = fill(tmp_path / "run")
    damage(run_dir)
    with pytest.raises(lc.IncompleteRun, match=reason):
        lc.write_complete(run_dir, ["Offline"], "both")
    assert not (run_dir / lc.COMPLETE).exists()
    assert reason in (run_dir / lc.INCOMPLETE).read_text()
    assert not lc.is_complete(run_dir)


def test_every_expected_test_folder_is_required(tmp_path):
    run_dir = fill(tmp_path / "run", scenarios=("Offline",), modes=("performance",))
    assert lc.verify_outputs(run_dir, ["Offline"], "performance") == []
    assert lc.verify_outputs(run_dir, ["Offline", "Server"], "performance") == ["Server performance: no test folder with a summary"]
    assert lc.verify_outputs(run_dir, ["Offline"], "both") == ["Offline accuracy: no test folder with a summary"]


def test_previous_run_reads_only_complete_runs(tmp_path):
    out = tmp_path / "out"
    unfinished = fill(out / "20260101-000000-a")  # no COMPLETE, no INCOMPLETE: e.g. after a SIGKILL
    assert lc.previous_run(out, "sig") is None
    done = fill(out / "20250101-000000-a")
    lc.write_complete(done, ["Offline"], "both")
    assert lc.previous_run(out, "sig") == done
    assert lc.previous_run(out, "other") is None
    assert unfinished.exists()


def test_clean_removes_only_real_incomplete_unlocked_run_folders(tmp_path):
    out = tmp_path / "out"
    done = fill(out / "done")
    lc.write_complete(done, ["Offline"], "both")
    killed = fill(out / "killed")  # no marker at all
    marked = fill(out / "marked")
    lc.mark_incomplete(marked, "interrupted")
    busy = fill(out / "busy", signature="busy")
    stranger = out / "stranger"  # not a run folder: no run.json
    stranger.mkdir()
    (stranger / "INCOMPLETE").write_text("")
    elsewhere = fill(tmp_path / "elsewhere")
    (out / "link").symlink_to(elsewhere)
    locks = tmp_path / "locks"
    lock = lc.RunLock(locks, out, "busy").acquire()
    lock.record(busy)
    said = []
    try:
        removed = lc.clean_incomplete(out, said.append, locks)
    finally:
        lock.release()
    assert sorted(p.name for p in removed) == ["killed", "marked"]
    assert said == [f"removed the incomplete run {out / 'killed'}", f"removed the incomplete run {out / 'marked'}"]
    assert done.exists() and busy.exists() and stranger.exists() and elsewhere.exists() and (out / "link").is_symlink()


def _try_lock(locks, out, queue):
    try:
        lc.RunLock(locks, out, "sig").acquire()
        queue.put("acquired")
    except RunInProgress as exc:
        queue.put(str(exc))


def test_a_second_identical_run_is_refused_while_the_first_holds_the_lock(tmp_path):
    out = tmp_path / "out"
    locks = tmp_path / "cache" / "locks"
    run_dir = out / "run-1"
    with lc.RunLock(locks, out, "sig") as lock:
        lock.record(run_dir)
        queue = multiprocessing.get_context("fork").Queue()
        child = multiprocessing.get_context("fork").Process(target=_try_lock, args=(locks, out, queue))
        child.start()
        child.join(10)
        assert queue.get(timeout=5) == f"a run of this configuration is in progress in {run_dir} (pid {os.getpid()})"
        assert lc.locked_run_dirs(locks, out) == [run_dir]
        assert lc.locked_run_dirs(locks, tmp_path / "other") == []
        assert not out.exists()  # the output folder holds nothing but run folders
        with lc.RunLock(locks, tmp_path / "other", "sig"):  # the same configuration elsewhere is free
            pass
    assert lc.locked_run_dirs(locks, out) == []
    with lc.RunLock(locks, out, "sig"):  # released: free again
        pass
    assert RunInProgress.exit_code == 8
