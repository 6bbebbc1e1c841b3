"""Accuracy scripts: read mlperf_log_accuracy.json, write accuracy.txt.

Each module has ``score(log_path, dataset, expect_total) -> result`` with
``result.line()`` (the one-line report) and ``result.accuracy_txt()`` (the
file's text, in the reference's format), and a ``python -m`` entry point.
"""

import importlib


def scorer(name: str):
    """The accuracy module ``name`` (imagenet, squad)."""
    return importlib.import_module(f"mlperf_harness.accuracy.{name}")
