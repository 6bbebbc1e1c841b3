"""`submission check`: fetching the pinned checker (from a stand-in archive served on loopback),
its tools image's build context, and its log turned into per-result verdicts."""

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checker_standin import COMMIT, archive_bytes, serve  # noqa: E402

from launcher.errors import FetchError, UsageError  # noqa: E402
from launcher.airgap.download import Downloader  # noqa: E402
from launcher.airgap.lockfile import LockFile  # noqa: E402
from launcher.submission import checker  # noqa: E402


@pytest.fixture
def served(tmp_path, monkeypatch):
    """The stand-in archive on an HTTP server bound to 127.0.0.1 (stopped after the test)."""
    for name in ("no_proxy", "NO_PROXY"):  # loopback never goes through a proxy
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    with serve(archive_bytes(), f"/inference/archive/{COMMIT}.tar.gz") as served_at:
        yield served_at


def _fetch(source, tmp_path, messages=None):
    lock = LockFile(tmp_path / "images.lock.yaml")
    return checker.fetch(source, tmp_path / "cache", lock, Downloader(retries=0, timeout=10),
                         say=(messages.append if messages is not None else lambda m: None))


def test_fetch_verifies_and_unpacks(served, tmp_path):
    url, digest, hits = served
    source = checker.CheckerSource(url=url, commit=COMMIT, sha256=digest)
    folder = _fetch(source, tmp_path)
    assert (folder / "tools/submission/submission_checker/main.py").is_file()
    assert folder == checker.checker_dir(tmp_path / "cache", source)
    again = []
    assert _fetch(source, tmp_path, again) == folder
    assert len(hits) == 1 and "is in the cache" in again[0]


def test_fetch_refuses_a_wrong_digest(served, tmp_path):
    url, _, _ = served
    source = checker.CheckerSource(url=url, commit=COMMIT, sha256="0" * 64)
    with pytest.raises(FetchError, match="expected 0000"):
        _fetch(source, tmp_path)
    assert not list((tmp_path / "cache" / "tools").glob("*.tar.gz"))
    assert not checker.checker_dir(tmp_path / "cache", source).exists()


def test_fetch_without_declared_digest_records_it(served, tmp_path):
    url, digest, _ = served
    source = checker.CheckerSource(url=url, commit=COMMIT)
    messages = []
    _fetch(source, tmp_path, messages)
    recorded = yaml.safe_load((tmp_path / "images.lock.yaml").read_text())["artifacts"][url]
    assert recorded["sha256"] == digest
    assert any("declares no sha256; recorded" in m for m in messages)


def test_fetch_refuses_a_non_checker_archive(served, tmp_path, monkeypatch):
    url, _, _ = served
    source = checker.CheckerSource(url=url, commit=COMMIT, module="tools/elsewhere/checker")
    with pytest.raises(FetchError, match="not the checker's source"):
        _fetch(source, tmp_path)


def test_images_yaml_pins_the_checker():
    from launcher.spec.model import DEFAULT_SPEC

    source = checker.load_source(DEFAULT_SPEC)
    assert source.version == "v6.1" and len(source.commit) == 40 and source.commit in source.url


def test_missing_entry_is_one_line(tmp_path):
    spec = tmp_path / "images.yaml"
    spec.write_text("schema_version: 1\n")
    with pytest.raises(UsageError, match="no tools.submission_checker entry"):
        checker.load_source(spec)


def test_build_context(served, tmp_path):
    url, digest, _ = served
    source = checker.CheckerSource(url=url, commit=COMMIT, sha256=digest)
    folder = _fetch(source, tmp_path)
    context = checker.build_context(folder, source, "mlperf-docker/debian:bookworm", tmp_path / "ctx")
    dockerfile = (context / "Dockerfile").read_text()
    assert dockerfile.splitlines()[1] == "FROM mlperf-docker/debian:bookworm"
    assert 'ENTRYPOINT ["python3", "-m", "submission_checker.main"]' in dockerfile
    assert "WORKDIR /opt/checker/source/tools/submission" in dockerfile
    assert (context / "source/tools/submission/submission_checker/main.py").is_file()
    assert (context / "deps/yaml/__init__.py").is_file() and not list(context.rglob("*.so"))
    command = checker.run_command("t:1", tmp_path, "v6.1", user="1:2")
    assert command[:6] == ["docker", "run", "--rm", "--network", "none", "--user"]
    assert f"{tmp_path.resolve()}:/submission:ro" in command and command[-4:-2] == ["--version", "v6.1"]


LOG = """\
INFO:main:starting
[2026-11-29 21:15:53,729 performance_check.py:120 ERROR] /submission/closed/Org/results/sys1/resnet50/Offline/performance/run_1/mlperf_log_detail.txt Test duration less than 600s in user config. expected=600000, found=0
[2026-11-29 21:15:53,746 accuracy_check.py:162 WARNING] /submission/closed/Org/results/sys1/resnet50/Offline/accuracy/mlperf_log_detail.txt accuracy not met: expected=75.695400, found=75.000
[2026-11-29 21:15:53,731 base.py:37 WARNING] Execution of check endpoints_model_check skipped for /submission/closed/Org/results/sys1/resnet50/Offline/performance/run_1/mlperf_log_detail.txt.
[2026-11-29 21:15:53,746 base.py:58 ERROR] Some performance checks Checks failed for: /submission/closed/Org/results/sys1/resnet50/Offline/performance/run_1/mlperf_log_detail.txt
[2026-11-29 21:15:53,748 compliance_check.py:476 ERROR] Compliance test performance check in /submission/closed/Org/results/sys1/resnet50/Offline/TEST01 failed
[2026-11-29 21:15:53,749 performance_check.py:250 ERROR] Early stopping condition was not met, msg= * Only processed 500 queries.
[2026-11-29 21:15:53,790 main.py:230 INFO] Results /submission/closed/Org/results/sys1/resnet50/SingleStream/performance/run_1/mlperf_log_detail.txt 0.44
[2026-11-29 21:15:53,795 main.py:236 ERROR] NoResults /submission/closed/Org/results/sys1/resnet50/Offline/performance/run_1/mlperf_log_detail.txt
[2026-11-29 21:15:53,796 main.py:361 ERROR] SUMMARY: submission has errors
"""


def test_parse_output_per_result():
    report = checker.parse_output(LOG)
    assert set(report.verdicts) == {"sys1/resnet50/Offline", "sys1/resnet50/SingleStream"}
    offline = report.verdicts["sys1/resnet50/Offline"]
    assert offline.valid is False and report.verdicts["sys1/resnet50/SingleStream"].valid
    assert offline.messages == [
        "performance/run_1/mlperf_log_detail.txt Test duration less than 600s in user config. "
        "expected=600000, found=0",
        "warning: accuracy/mlperf_log_detail.txt accuracy not met: expected=75.695400, found=75.000",
        "Compliance test performance check in TEST01 failed",
        "Early stopping condition was not met, msg= * Only processed 500 queries."]
    assert not report.other_errors
    assert report.summary == "SUMMARY: submission has errors" and not report.ok
    lines = report.lines()
    assert lines[0] == "INVALID  sys1/resnet50/Offline" and lines[-1] == report.summary
    assert "valid  sys1/resnet50/SingleStream" in lines


def test_parse_output_ok_and_crash():
    ok = checker.parse_output("[t main.py:1 INFO] Results /submission/closed/O/results/s/m/Offline/x 1\n"
                              "[t main.py:2 INFO] SUMMARY: submission looks OK\n")
    assert ok.ok
    crashed = checker.parse_output("Traceback (most recent call last):\nAttributeError: 'NoneType'\n")
    assert not crashed.ok and "printed no SUMMARY" in crashed.lines()[-1]


def test_check_refuses_a_non_tree(tmp_path):
    with pytest.raises(UsageError, match="not a submission tree"):
        checker.check(tmp_path, "tag", "v6.1")
