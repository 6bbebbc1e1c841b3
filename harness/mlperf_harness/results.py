"""Writing the MLPerf results tree (its layout and file names: contract / loadgen_logs).

Nothing outside the folders a run creates is deleted or overwritten: a test
folder that exists and is not empty, or a kept file with other contents, is
an error.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable

from mlperf_harness.contract import (  # noqa: F401  (the results tree, defined in the contract)
    ACCURACY_LOG, ACCURACY_TXT, DETAIL, MEASUREMENTS, SUMMARY, TRACE, USER_CONF, read_summary,
    scenario_dir, test_dir)
from mlperf_harness.errors import HarnessError

REQUIRED = {
    "performance": (SUMMARY, DETAIL),
    "accuracy": (SUMMARY, DETAIL, ACCURACY_LOG),
}

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]*$")


def check_name(what: str, value: str) -> str:
    """A system/model name must be one plain path component (no "/", not "." or "..")."""
    if not _SAFE_NAME.match(value or ""):
        raise HarnessError(
            f"{what} {value!r} must be a plain name (letters, digits, . _ + -)")
    return value


def check_free(path: Path) -> None:
    """Fail if ``path`` exists and holds anything (results are never overwritten)."""
    if path.exists():
        if not path.is_dir():
            raise HarnessError(f"{path} exists and is not a folder")
        if any(path.iterdir()):
            raise HarnessError(f"{path} already holds results; use a fresh --output-dir")


def make_test_dir(path: Path) -> None:
    check_free(path)
    path.mkdir(parents=True, exist_ok=True)


def check_kept_file(path: Path, text: str) -> None:
    """A kept file may pre-exist only with the same contents."""
    if path.exists():
        try:
            same = path.read_text(encoding="utf-8") == text
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            raise HarnessError(f"{path} exists with other contents; use a fresh --output-dir")


def write_kept_file(path: Path, text: str) -> None:
    check_kept_file(path, text)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


def measurements_text(model_path: str, input_data_types: str = "fp32") -> str:
    data = {
        "starting_weights_filename": os.path.basename(model_path),
        "retraining": "no",
        "input_data_types": input_data_types,
        "weight_data_types": "fp32",
        "weight_transformations": "none",
    }
    return json.dumps(data, indent=2) + "\n"


def remove_empty_trace(folder: Path) -> None:
    trace = folder / TRACE
    if trace.is_file() and trace.stat().st_size == 0:
        trace.unlink()


def missing_files(folder: Path, names: Iterable[str]) -> list:
    return [n for n in names if not (folder / n).is_file()]
