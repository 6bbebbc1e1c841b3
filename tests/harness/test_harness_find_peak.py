"""find-peak: the search converges on a known capacity; results and peak.conf are written."""

import pytest

from mlperf_harness import find_peak
from mlperf_harness.errors import HarnessError


@pytest.mark.parametrize("start", [50.0, 900.0, 1234.5, 5000.0, 40000.0])
def test_search_converges_on_the_capacity(start):
    capacity = 1234.5
    calls = []

    def valid(qps):
        calls.append(qps)
        return qps <= capacity

    result = find_peak.search(valid, start, max_steps=12, tolerance=0.02)
    assert result.peak is not None and capacity * 0.98 <= result.peak <= capacity
    assert len(calls) <= 12 and [q for q, _ in result.steps] == calls
    assert all(ok == (q <= capacity) for q, ok in result.steps)


def test_search_is_bounded_and_reports_no_peak_when_nothing_is_valid():
    calls = []
    result = find_peak.search(lambda qps: calls.append(qps) or False, 100.0, max_steps=5)
    assert result.peak is None and len(calls) == 5 and calls[-1] == 100.0 / 16


def test_search_needs_a_positive_start():
    with pytest.raises(HarnessError):
        find_peak.search(lambda qps: True, 0.0)


def _fake_run(capacity):
    """A run(scenario, conf_text, folder) whose Server runs are VALID up to ``capacity``."""
    seen = []

    def run(scenario, conf_text, folder):
        seen.append((scenario, folder.name))
        (folder / "user.conf").write_text(conf_text)
        if scenario == "Offline":
            text = "Samples per second : 1000\nResult is : INVALID\n"
        else:
            qps = float(conf_text.split("target_qps = ")[-1].split()[0])
            text = f"Result is : {'VALID' if qps <= capacity else 'INVALID'}\ntarget {qps}\n"
        (folder / "mlperf_log_summary.txt").write_text(text)
        (folder / "mlperf_log_detail.txt").write_text("detail\n")
        return dict(line.split(" : ", 1) for line in text.splitlines() if " : " in line)

    return run, seen


def test_find_peak_writes_steps_result_and_peak_conf(tmp_path, capsys):
    run, seen = _fake_run(capacity=640.0)
    server = tmp_path / "Server"
    result_dir = server / "performance" / "run_1"
    outcome = find_peak.find_peak(run, "resnet50", "# offline\n", "# server\n", server, result_dir,
                                  max_steps=8, tolerance=0.05)
    assert seen[0] == ("Offline", "offline")
    assert [name for _, name in seen[1:]] == [f"step_{n}" for n in range(1, len(seen))]
    assert 0.95 * 640 <= outcome.peak <= 640
    assert (server / "peak.conf").read_text().splitlines()[-1] == \
        f"resnet50.Server.target_qps = {outcome.peak:g}"
    summary = (result_dir / "mlperf_log_summary.txt").read_text()
    assert "Result is : VALID" in summary and f"target {outcome.peak}" in summary
    assert (result_dir / "mlperf_log_detail.txt").exists()
    step_conf = (server / "find_peak" / "step_1" / "user.conf").read_text()
    assert step_conf.startswith("# server\n") and "resnet50.Server.target_qps = 1000" in step_conf
    assert "resnet50.Server.min_duration = " in step_conf
    assert "Server peak" in capsys.readouterr().out


def test_find_peak_without_a_valid_run_is_one_error(tmp_path):
    run, _ = _fake_run(capacity=0.0)
    with pytest.raises(HarnessError, match="no Server run was VALID"):
        find_peak.find_peak(run, "bert", "", "", tmp_path / "Server", tmp_path / "r", max_steps=3)
    assert not (tmp_path / "Server" / "peak.conf").exists()
    with pytest.raises(HarnessError, match="already holds a find-peak search"):
        find_peak.find_peak(run, "bert", "", "", tmp_path / "Server", tmp_path / "r")


def test_find_peak_through_the_harness(standin, tmp_path):
    """--find_peak as the launcher runs it: every step's logs, the best VALID step as the
    Server performance result, peak.conf next to them."""
    from harness_test_support import run_harness, test_folder

    proc = run_harness(["--model", "resnet50", "--model_path", standin["model_path"],
                        "--dataset_path", standin["dataset_path"], "--output_dir", tmp_path,
                        "--system", "box", "--scenario", "Server", "--mode", "performance",
                        "--find_peak", "--max_batchsize", "8",
                        # a generous latency bound: some step is VALID even on a busy machine
                        "--target_latency", "1000"], cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    server = tmp_path / "box" / "resnet50" / "Server"
    peak = float((server / "peak.conf").read_text().split("target_qps = ")[1])
    steps = sorted(p.name for p in (server / "find_peak").iterdir())
    assert "resnet50.Server.target_latency = 1000" in \
        (server / "find_peak" / "step_1" / "user.conf").read_text()
    assert "offline" in steps and "step_1" in steps
    for step in steps:
        assert (server / "find_peak" / step / "mlperf_log_summary.txt").exists()
    summary = (test_folder(tmp_path, "box", "resnet50", "Server", "performance")
               / "mlperf_log_summary.txt").read_text()
    assert "Result is : VALID" in summary and "Scenario : Server" in summary
    assert f"find-peak: Server peak {peak:g} qps" in proc.stdout
    assert "Server performance: " in proc.stdout and "result VALID" in proc.stdout


def test_find_peak_needs_server_and_performance(standin, tmp_path):
    from harness_test_support import run_harness

    base = ["--model_path", standin["model_path"], "--dataset_path", standin["dataset_path"],
            "--output_dir", tmp_path, "--find_peak"]
    for extra, words in (([], "applies to Server"),
                         (["--scenario", "Server"], "needs --mode performance")):
        proc = run_harness(base + extra, cwd=tmp_path)
        assert proc.returncode == 2 and words in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_an_invalid_target_is_retried_before_the_search_goes_below_it():
    """One spurious INVALID (a stall on a shared host) must not pull the peak down: the
    retry passes; a target that fails twice counts as INVALID; max_steps counts retries."""
    capacity, flaky = 1010.0, {1000.0}
    calls = []

    def valid(qps):
        calls.append(qps)
        if qps in flaky:
            flaky.discard(qps)  # fails once only
            return False
        return qps <= capacity

    result = find_peak.search(valid, 800.0, max_steps=12, tolerance=0.02, retries=1)
    assert 0.98 * capacity <= result.peak <= capacity
    assert len(calls) <= 12 and calls.count(1600.0) == 2  # a real INVALID is run twice
    assert (1000.0, False) in result.steps and (1000.0, True) in result.steps
    without = find_peak.search(lambda q: q <= capacity and q != 1000.0, 800.0, max_steps=12,
                               tolerance=0.02)
    assert without.peak < 1000.0  # without retries the one failure bounds the search


def test_find_peak_keeps_the_retried_steps_logs(tmp_path):
    run, seen = _fake_run(capacity=640.0)
    server = tmp_path / "Server"
    outcome = find_peak.find_peak(run, "resnet50", "", "", server, server / "performance" / "run_1",
                                  max_steps=10, tolerance=0.05, retries=1)
    steps = [name for _, name in seen[1:]]
    assert steps == [f"step_{n}" for n in range(1, len(steps) + 1)]  # every run its own folder
    assert len(steps) > len({q for q, _ in outcome.steps})  # some targets ran twice
    assert 0.95 * 640 <= outcome.peak <= 640
