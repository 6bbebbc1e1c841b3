"""Helpers shared by the harness tests (a uniquely named module, so it
cannot collide with other test folders' helpers)."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "harness"


def harness_env() -> dict:
    """Environment for running ``python -m mlperf_harness`` as a subprocess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HARNESS), str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.pop("MLPERF_HARNESS_DEBUG", None)
    return env
