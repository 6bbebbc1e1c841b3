"""Tests of the in-container harness (harness/mlperf_harness) and the
resnet50 stand-in generator; no GPU, no network, no docker."""

import sys
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]
for _path in (str(_REPO / "harness"), str(_REPO), str(Path(__file__).resolve().parent)):
    if _path not in sys.path:
        sys.path.insert(0, _path)


@pytest.fixture(scope="session")
def standin(tmp_path_factory):
    """A 60-sample resnet50 stand-in (model + dataset + expected.json)."""
    from launcher.standins.resnet50 import generate

    out = tmp_path_factory.mktemp("standin")
    info = generate(out, n_samples=60, top1_fraction=0.75, seed=0)
    info["root"] = out
    return info
