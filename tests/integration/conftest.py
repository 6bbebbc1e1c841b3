"""Integration fixtures: a real docker engine, the local Debian base and the built CPU image.

These tests do not skip: CI (.ci/run) starts dockerd and creates the base first, and a missing
engine is a failure to report, not a pass.
"""

from __future__ import annotations

import json
import os
import sys
import time

import docker
import pytest

from integration_support import BASE, REPOSITORY, TAG, mlperf_docker
from launcher.build import base_image


@pytest.fixture(scope="session")
def docker_client():
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # report, do not skip
        pytest.fail(f"no docker engine: {exc} (start dockerd, or run scripts/test)")
    return client


@pytest.fixture(scope="session")
def base(docker_client):
    try:
        docker_client.images.get(BASE)
    except docker.errors.ImageNotFound:
        base_image.create(BASE)
    return BASE


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def cli_env(base, cache_dir, tmp_path_factory):
    env = dict(os.environ)
    env.update(
        MLPERF_DOCKER_BASE_CPU=base,
        MLPERF_DOCKER_CACHE=str(cache_dir),
        MLPERF_DOCKER_REPOSITORY=REPOSITORY,
        MLPERF_DOCKER_CONFIG=str(tmp_path_factory.mktemp("config") / "config.yaml"),
        COLUMNS="200",
    )
    return env


@pytest.fixture(scope="session")
def built_image(docker_client, cli_env):
    """Build the default image once per session, cold (fresh cache; the base's layers only)."""
    try:
        docker_client.images.remove(TAG, force=True)
    except docker.errors.ImageNotFound:
        pass
    started = time.monotonic()
    proc = mlperf_docker(cli_env, "build")
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(f"\n[build] {TAG} in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return docker_client.images.get(TAG)


@pytest.fixture(scope="session")
def expected_top1(built_image, cache_dir):
    [expected] = cache_dir.glob("standins/resnet50-*/expected.json")
    return json.loads(expected.read_text())
