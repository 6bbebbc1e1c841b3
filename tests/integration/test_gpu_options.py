"""GPU passthrough down to the engine: containers are created (not started) and their HostConfig read back."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from integration_support import BASE
from launcher.run.options import RunOptions
from launcher.run.plan import make_plan
from launcher.session import Session
from launcher.spec.variation import parse_variation

pytestmark = pytest.mark.docker


@pytest.fixture()
def session(base):
    return Session.open()


def created_host_config(session, variation, options, tmp_path, dev_root=Path("/dev")):
    """The HostConfig of a container created (not started) from the run plan, on any local image."""
    plan = make_plan(session, variation, options, dev_root=dev_root)
    spec = replace(plan.container(tmp_path), image=BASE)  # any local image: only the options matter
    container = session.engine.create(spec)
    try:
        return container.host_config
    finally:
        session.engine.remove_container(container.id)


def test_cuda_device_request_for_all_and_named_gpus(session, tmp_path):
    v = parse_variation("_cuda", session.spec)
    for gpus, expected in ((None, {"Count": -1, "DeviceIDs": []}), ("0,2", {"Count": 0, "DeviceIDs": ["0", "2"]})):
        options = RunOptions.of(scenarios=("Offline",), gpus=gpus)
        host = created_host_config(session, v, options, tmp_path)
        [request] = host["DeviceRequests"]
        assert request["Capabilities"] == [["gpu"]]
        assert request["Count"] == expected["Count"] and (request["DeviceIDs"] or []) == expected["DeviceIDs"]
        assert host["NetworkMode"] == "none"


def test_rocm_devices_groups_seccomp_ipc(session, tmp_path):
    # Character devices standing in for /dev/kfd and the render nodes (root can make them; major 1
    # minor 3 is /dev/null) so the engine accepts them as it would the real ones.
    dev = tmp_path / "dev"
    (dev / "dri").mkdir(parents=True)
    for name in ("kfd", "dri/renderD128", "dri/renderD129"):
        os.mknod(dev / name, 0o660 | stat.S_IFCHR, os.makedev(1, 3))
        os.chown(dev / name, 0, 4242)
    v = parse_variation("_rocm", session.spec)
    options = RunOptions.of(scenarios=("Offline",), gpus="renderD129")
    host = created_host_config(session, v, options, tmp_path, dev_root=dev)
    devices = {(d["PathOnHost"], d["PathInContainer"]) for d in host["Devices"]}
    assert devices == {(str(dev / "kfd"), "/dev/kfd"), (str(dev / "dri/renderD129"), "/dev/dri/renderD129")}
    assert host["GroupAdd"] == ["4242"]
    assert "seccomp=unconfined" in host["SecurityOpt"]
    assert host["IpcMode"] == "host"


def test_memory_limit_reaches_the_container(session, tmp_path):
    options = RunOptions.of(scenarios=("Offline",), memory="512m")
    host = created_host_config(session, parse_variation(None, session.spec), options, tmp_path)
    assert host["Memory"] == 512 * 1024 * 1024
