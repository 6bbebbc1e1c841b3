import json

import numpy as np
import pytest

from mlperf_harness.models.resnet50 import accuracy as acc
from mlperf_harness.errors import HarnessError


def _hex(label):
    return np.array([label], dtype="<i4").tobytes().hex().upper()


def _write_log(path, entries):
    path.write_text(json.dumps([{"seq_id": n, "qsl_idx": i, "data": d}
                                for n, (i, d) in enumerate(entries)]))


def test_evaluate_dedupes_and_counts(tmp_path):
    labels = [5, 7, 0, 999]
    log = tmp_path / "mlperf_log_accuracy.json"
    _write_log(log, [(0, _hex(5)), (1, _hex(8)), (0, _hex(5)), (2, _hex(0)),
                     (3, _hex(998)), (1, _hex(7))])  # the duplicate of 1 is ignored
    result = acc.evaluate(log, labels, expect_total=4)
    assert (result.good, result.total, result.duplicates) == (2, 4, 2)
    assert result.line() == "accuracy=50.000%, good=2, total=4"


def test_evaluate_expect_total_and_bad_entries(tmp_path):
    log = tmp_path / "log.json"
    _write_log(log, [(0, _hex(1))])
    with pytest.raises(HarnessError, match="covers 1 samples, expected 2"):
        acc.evaluate(log, [1, 2], expect_total=2)
    _write_log(log, [(5, _hex(1))])
    with pytest.raises(HarnessError, match="qsl_idx 5 outside"):
        acc.evaluate(log, [1, 2])
    _write_log(log, [(0, "")])
    with pytest.raises(HarnessError, match="holds 0 bytes"):
        acc.evaluate(log, [1])
    log.write_text("not json")
    with pytest.raises(HarnessError, match="not a readable accuracy log"):
        acc.evaluate(log, [1])


def test_cli_writes_accuracy_txt(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "val_map.txt").write_text("a 1\nb 2\nc 3\nd 4\n")
    log = tmp_path / "mlperf_log_accuracy.json"
    _write_log(log, [(0, _hex(1)), (1, _hex(2)), (2, _hex(0))])
    assert acc.main(["--log", str(log), "--dataset-path", str(data), "--count", "3"]) == 0
    assert (tmp_path / "accuracy.txt").read_text() == "accuracy=66.667%, good=2, total=3\n"
    assert "accuracy=66.667%" in capsys.readouterr().out
    assert acc.main(["--log", str(log), "--dataset-path", str(data), "--count", "4"]) == 1
    assert capsys.readouterr().err.startswith("error:")
