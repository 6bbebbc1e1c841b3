"""`report`: the data read from hand-made runs, B/A ratios, the PNGs and the one-file HTML page,
which headless Chromium renders to a screenshot that is not blank."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from submission_fixtures import IMAGE, make_run  # noqa: E402


from launcher.report import data as report_data  # noqa: E402
from launcher.report import render  # noqa: E402


@pytest.fixture
def two_runs(tmp_path):
    a = make_run(tmp_path, name="a", throughput=1000.0, latency_ns=500000)
    b = make_run(tmp_path, name="b", throughput=1500.0, latency_ns=250000)
    return a, b


def test_collect_one_run(two_runs):
    data = report_data.collect([two_runs[0]])
    run = data["runs"][0]
    assert run["image"] == IMAGE and run["standin"] and run["framework"] == "onnxruntime"
    assert run["loadgen_version"].startswith("6.0.17") and "comparison" not in data
    offline, single = run["scenarios"]
    assert offline["scenario"] == "Offline" and offline["metric"] == 1000.0 and offline["unit"] == "samples/s"
    assert single["metric"] == pytest.approx(0.5) and single["unit"] == "ms"
    assert single["latencies_ms"]["p99"] == pytest.approx(2.0) and single["latencies_ms"]["max"] == 9.0
    assert offline["accuracy"] == 75.0 and offline["accuracy_target"] == pytest.approx(75.6954)
    assert offline["audits"] == {"TEST01": {"accuracy": "PASS", "performance": "PASS"},
                                 "TEST04": {"performance": "PASS"}}
    json.dumps(data)  # JSON-ready


def test_ab_ratios(two_runs):
    rows = {r["scenario"]: r for r in report_data.collect(list(two_runs))["comparison"]}
    assert rows["Offline"]["ratio"] == pytest.approx(1.5) and rows["Offline"]["speedup"] == pytest.approx(1.5)
    assert rows["SingleStream"]["ratio"] == pytest.approx(0.5)
    assert rows["SingleStream"]["speedup"] == pytest.approx(2.0)


def test_html_and_pngs(two_runs, tmp_path):
    page = render.write(report_data.collect(list(two_runs)), tmp_path / "report")
    pngs = sorted(p.name for p in page.parent.glob("*.png"))
    assert "metrics.png" in pngs and "accuracy.png" in pngs
    assert "latency-A-resnet50-SingleStream.png" in pngs and "latency-B-resnet50-Offline.png" in pngs
    text = page.read_text()
    assert text.count("data:image/png;base64,") == len(pngs)
    assert "src=\"http" not in text and "<script" not in text  # self-contained
    assert "B / A" in text and IMAGE in text and "Stand-in model and dataset" in text


def test_incomplete_run_refused(two_runs):
    from launcher.errors import UsageError
    from launcher.run.lifecycle import mark_incomplete

    mark_incomplete(two_runs[0], "interrupted")
    with pytest.raises(UsageError, match="incomplete run"):
        report_data.collect([two_runs[0]])


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not _chromium(), reason="headless Chromium not installed (scripts/setup installs it)")
def test_chromium_renders_a_non_blank_page(two_runs, tmp_path):
    from PIL import Image, ImageStat

    page = render.write(report_data.collect(list(two_runs)), tmp_path / "report")
    shot = tmp_path / "shot.png"
    proc = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.is_file(), proc.stderr[-2000:]
    image = Image.open(shot).convert("L")
    stat = ImageStat.Stat(image)
    assert image.size == (1200, 1600)
    assert stat.stddev[0] > 10, "the screenshot is blank"
    # Dark text and coloured charts, not only the white background.
    histogram = image.histogram()
    assert sum(histogram[:128]) > 0.01 * image.size[0] * image.size[1]
