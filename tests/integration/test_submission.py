"""From a stand-in run to a checked submission: `run --compliance TEST01,TEST04 --mode both`, then
`submission generate`, `fetch --checker` and `submission check` (the checker in its tools image, no
network), then `report`.

The checker is a checker-shaped stand-in served on loopback (this machine cannot reach its host). With
MLPERF_DOCKER_TEST_CHECKER_ARCHIVE=<a source archive of mlcommons/inference> the real one runs, and its
only complaints must be those a quick stand-in run is expected to get."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
import yaml

from integration_support import ROOT, mlperf_docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from checker_standin import COMMIT, archive_bytes, serve  # noqa: E402

REAL_ARCHIVE = os.environ.get("MLPERF_DOCKER_TEST_CHECKER_ARCHIVE")
# What a quick stand-in, test-style run must get from the real checker, and nothing else.
EXPECTED = [r"Test duration less than 600s", r"performance_sample_count, found \d+, needs to be >= 1024",
            r"Required minimum samples per query not met", r"accurcy run does not cover all dataset",
            r"accuracy not met", r"Compliance test performance check in TEST0[14] failed"]
USER_YAML = "submitter: MyOrg\nstatus: available\nsystem_type: edge\ncooling: air\n"


@pytest.fixture(scope="module")
def served_checker():
    payload = Path(REAL_ARCHIVE).read_bytes() if REAL_ARCHIVE else archive_bytes()
    with serve(payload, "/checker.tar.gz") as (url, digest, _):
        yield url, digest


@pytest.fixture(scope="module")
def spec_with_checker(served_checker, tmp_path_factory):
    url, digest = served_checker
    folder = tmp_path_factory.mktemp("spec")
    data = yaml.safe_load((ROOT / "images.yaml").read_text())
    commit = data["tools"]["submission_checker"]["commit"] if REAL_ARCHIVE else COMMIT
    data["tools"]["submission_checker"] = {"url": url, "commit": commit, "sha256": digest, "version": "v6.1"}
    (folder / "images.yaml").write_text(yaml.safe_dump(data))
    return folder / "images.yaml"


@pytest.fixture(scope="module")
def compliance_run(built_image, cli_env, tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    proc = mlperf_docker(cli_env, "run", "--scenario", "Offline,SingleStream,MultiStream", "--mode", "both",
                         "--compliance", "TEST01,TEST04", "--test_query_count", "700", "--output_dir", str(out),
                         timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [run] = [p for p in out.iterdir() if p.is_dir()]
    return run, proc


def test_run_verifies_the_audit_tests(compliance_run):
    run, proc = compliance_run
    for scenario in ("Offline", "SingleStream", "MultiStream"):
        assert f"{scenario} TEST01 accuracy: TEST PASS" in proc.stdout + proc.stderr
        [base] = run.glob(f"*/resnet50/{scenario}")
        assert "TEST PASS" in (base / "TEST01" / "verify_accuracy.txt").read_text()
        for test in ("TEST01", "TEST04"):
            assert (base / test / "verify_performance.txt").is_file()
            assert (base / test / "performance" / "run_1" / "mlperf_log_detail.txt").is_file()
    record = json.loads((run / "run.json").read_text())
    assert record["command"][:2] == ["mlperf-docker", "run"] and record["image_id"].startswith("sha256:")
    assert "--compliance" in record["harness_command"]


@pytest.fixture(scope="module")
def submission(compliance_run, cli_env, tmp_path_factory):
    run, _ = compliance_run
    folder = tmp_path_factory.mktemp("submission")
    (folder / "system.yaml").write_text(USER_YAML)
    proc = mlperf_docker(cli_env, "submission", "generate", str(run), "--system-yaml", str(folder / "system.yaml"),
                         "-o", str(folder / "tree"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return folder / "tree"


def test_generated_tree(submission):
    [system_json] = (submission / "closed" / "MyOrg" / "systems").glob("*.json")
    assert json.loads(system_json.read_text())["submitter"] == "MyOrg"
    readmes = list((submission / "closed" / "MyOrg" / "results").glob("*/resnet50/*/README.md"))
    assert len(readmes) == 3 and "sha256:" in readmes[0].read_text()


def test_check_with_the_pinned_checker(submission, spec_with_checker, cli_env):
    fetched = mlperf_docker(cli_env, "fetch", "--checker", "--spec", str(spec_with_checker))
    assert fetched.returncode == 0, fetched.stderr[-3000:]
    proc = mlperf_docker(cli_env, "submission", "check", str(submission), "--quiet", "--spec",
                         str(spec_with_checker), timeout=1200)
    verdicts = [line for line in proc.stdout.splitlines() if re.match(r"^(valid|INVALID)  ", line)]
    assert len(verdicts) == 3, proc.stdout + proc.stderr[-3000:]
    if not REAL_ARCHIVE:
        assert proc.returncode == 0 and all(v.startswith("valid") for v in verdicts)
        assert "SUMMARY: submission looks OK" in proc.stdout
        return
    messages = [line.strip() for line in proc.stdout.splitlines() if line.startswith("    ")]
    unexpected = [m for m in messages if not any(re.search(p, m) for p in EXPECTED)]
    assert not unexpected, "\n".join(unexpected)


def test_report_of_the_run(compliance_run, cli_env, tmp_path):
    run, _ = compliance_run
    proc = mlperf_docker(cli_env, "report", str(run), "-o", str(tmp_path / "report"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "report" / "report.html").stat().st_size > 10000
    assert (tmp_path / "report" / "metrics.png").is_file()
