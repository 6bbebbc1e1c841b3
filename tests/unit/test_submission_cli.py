"""The submission commands as a user meets them: `run --compliance` through the contract setting,
`fetch --checker`, `submission check` and `report` errors: one line, exit 2."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from submission_fixtures import make_run  # noqa: E402
from unit_support import cli  # noqa: E402


def test_compliance_reaches_the_harness_argv(tmp_path):
    proc = cli("run", "--dry-run", "--mode", "both", "--compliance", "TEST01,TEST04", "--output_dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("--compliance TEST01,TEST04")


@pytest.mark.parametrize("args, message", [
    (["--mode", "performance", "--compliance", "TEST01"], "--compliance TEST01 needs --mode both"),
    (["--mode", "accuracy", "--compliance", "TEST04"], "needs a performance run"),
    (["--mode", "both", "--compliance", "TEST05"], "expected TEST01, TEST04, TEST06"),
    (["--mode", "both", "--compliance", "TEST06"], "TEST06 checks LLM outputs"),
    (["-v", "_bert-99", "--mode", "both", "--compliance", "TEST04"], "MLPerf defines no TEST04 for bert-99"),
    (["-v", "_pytorch,_gptj-99", "--mode", "both", "--compliance", "TEST06"], "infers gptj's token latencies"),
    (["-v", "_pytorch,_llama2-70b-99", "--mode", "both", "--compliance", "TEST01"],
     "MLPerf defines no TEST01 for llama2-70b-99"),
])
def test_bad_compliance_is_one_line_exit_2(tmp_path, args, message):
    proc = cli("run", "--dry-run", *args, "--output_dir", tmp_path)
    assert proc.returncode == 2 and message in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def test_check_needs_a_tree_and_the_checker(tmp_path):
    proc = cli("submission", "check", tmp_path)
    assert proc.returncode == 2 and "not a submission tree" in proc.stderr
    (tmp_path / "closed").mkdir()
    proc = cli("submission", "check", tmp_path, "--cache", tmp_path / "cache")
    assert proc.returncode == 2 and "run `mlperf-docker fetch --checker`" in proc.stderr


def test_fetch_checker_dry_run_and_exclusive(tmp_path):
    proc = cli("fetch", "--checker", "--dry-run", "--cache", tmp_path)
    assert proc.returncode == 0 and "submission checker" in proc.stdout and "to download" in proc.stdout
    bad = cli("fetch", "--checker", "--all", "--cache", tmp_path)
    assert bad.returncode == 2 and "--checker fetches only the submission checker" in bad.stderr


def test_report_refuses_another_tools_folder(tmp_path):
    proc = cli("report", tmp_path)
    assert proc.returncode == 2 and "not an mlperf-docker run folder" in proc.stderr


def test_report_json(tmp_path):
    run = make_run(tmp_path / "runs")
    proc = cli("report", run, "--json")
    assert proc.returncode == 0 and '"scenario": "Offline"' in proc.stdout
