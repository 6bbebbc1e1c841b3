"""Names and helpers the integration tests share (imported by conftest.py and the tests)."""

from __future__ import annotations

import os
import subprocess
import sys

from launcher.build import base_image
from launcher.spec.render import ROOT

BASE = os.environ.get("MLPERF_DOCKER_TEST_BASE", base_image.DEFAULT_TAG)
# Parallel checkouts on one engine pick their own namespace, so their images never collide.
REPOSITORY = os.environ.get("MLPERF_DOCKER_TEST_REPOSITORY", "mlperf-docker-test")
TAG = f"{REPOSITORY}/onnxruntime-cpu:resnet50-fp32-standin"


def mlperf_docker(env, *args, timeout=900):
    """Run the CLI as a user would, in a subprocess, with the tests' environment."""
    return subprocess.run([sys.executable, "-m", "launcher.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
