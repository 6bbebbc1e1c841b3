"""Shared test set-up: tests never read the user's own config, cache or base choice."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "harness"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory, monkeypatch):
    config = tmp_path_factory.getbasetemp() / "mlperf-docker-config.yaml"
    monkeypatch.setenv("MLPERF_DOCKER_CONFIG", str(config))
    for key in list(os.environ):
        if key.startswith("MLPERF_DOCKER_BASE_"):
            monkeypatch.delenv(key)
