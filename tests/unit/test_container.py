import shlex

from launcher.engine.docker_engine import sdk_arguments
from launcher.run.container import ContainerSpec, Mount


def spec(**kw):
    base = dict(image="img:tag", command=["--scenario", "Offline"], mounts=[Mount("/host/run", "/results")],
                user="1000:1000", environment={"HOME": "/tmp"})
    base.update(kw)
    return ContainerSpec(**base)


def test_cli_line_matches_sdk_arguments():
    s = spec()
    argv = shlex.split(s.to_cli())
    assert argv[:3] == ["docker", "run", "--rm"]
    assert argv[argv.index("--network") + 1] == "none"
    assert argv[argv.index("--user") + 1] == "1000:1000"
    assert argv[argv.index("--mount") + 1] == "type=bind,source=/host/run,target=/results"
    assert argv[-3:] == ["img:tag", "--scenario", "Offline"]
    sdk = sdk_arguments(s)
    assert sdk["network_mode"] == "none" and sdk["user"] == "1000:1000"
    assert sdk["mounts"][0]["Source"] == "/host/run" and sdk["mounts"][0]["Target"] == "/results"
    assert sdk["mounts"][0]["ReadOnly"] is False
    assert sdk["command"] == ["--scenario", "Offline"]


def test_read_only_mount_and_quoting():
    s = spec(mounts=[Mount("/data/image net", "/data", read_only=True)])
    argv = shlex.split(s.to_cli())
    assert "type=bind,source=/data/image net,target=/data,readonly" in argv
    assert sdk_arguments(s)["mounts"][0]["ReadOnly"] is True


def test_gpu_options():
    s = spec(gpus="all")
    assert sdk_arguments(s)["device_requests"][0]["Count"] == -1
    assert "--gpus all" in s.to_cli()
    s = spec(gpus="0,2", devices=["/dev/kfd"], group_add=["video"], security_opt=["seccomp=unconfined"],
             ipc_mode="host", shm_size="8g")
    sdk = sdk_arguments(s)
    assert sdk["device_requests"][0]["DeviceIDs"] == ["0", "2"]
    assert sdk["devices"] == ["/dev/kfd:/dev/kfd:rwm"]
    assert sdk["group_add"] == ["video"] and sdk["ipc_mode"] == "host" and sdk["shm_size"] == "8g"
    line = s.to_cli()
    for part in ("--device /dev/kfd", "--group-add video", "--security-opt seccomp=unconfined", "--ipc host"):
        assert part in line
