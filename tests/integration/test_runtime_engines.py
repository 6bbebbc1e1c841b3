"""The default variation end to end on the other runtimes: podman as root (built with podman), podman as a
non-root user (rootless, --userns keep-id) and a rootless docker daemon started for that user.

Each run is `mlperf-docker run` with no -v and small counts, in both modes; it must complete, score the
stand-in's known top-1, have run the image of the engine under test (run.json's image id), and leave
every file owned by the user who ran the launcher. The rootless engines get the image by save | load
(their stores are their own), not by a second build: the build is proven once, by podman as root. The
rootless docker daemon loads the docker-archive `bundle sif` exports for apptainer (and its recipe).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from integration_support import BASE, REPOSITORY, TAG, mlperf_docker
from launcher.engine.apptainer_engine import sif_name
from launcher.engine.podman_engine import PodmanEngine
from rootless_support import RootlessDocker, create_user, stop_podman_pause

pytestmark = pytest.mark.docker

RUN = ("run", "--mode", "both", "--count", "24", "--test_query_count", "24")


def pipe(save: list[str], load: list[str]) -> None:
    """`save | load` between two engines' stores."""
    saver = subprocess.Popen(save, stdout=subprocess.PIPE)
    loaded = subprocess.run(load, stdin=saver.stdout, capture_output=True)
    saver.stdout.close()
    assert saver.wait() == 0 and loaded.returncode == 0, loaded.stderr[-2000:]


def check_run(out_dir, uid: int, image_id: str, expected: dict) -> None:
    """One complete run folder, every file the user's, from the given image, with the known score."""
    [run_dir] = out_dir.iterdir()
    assert (run_dir / "COMPLETE").is_file(), sorted(p.name for p in run_dir.iterdir())
    paths = [run_dir, *run_dir.rglob("*")]
    assert {p.stat().st_uid for p in paths} == {uid}, {str(p): p.stat().st_uid for p in paths if p.stat().st_uid != uid}
    assert json.loads((run_dir / "run.json").read_text())["image_id"] == image_id
    [accuracy] = run_dir.rglob("accuracy/accuracy.txt")
    assert f"good={expected['good']}, total={expected['total']}" in accuracy.read_text()
    [summary] = run_dir.rglob("performance/run_1/mlperf_log_summary.txt")
    assert "Result is :" in summary.read_text()


def expected_score(count: int, cache_dir) -> dict:
    """The stand-in's correct samples are spread so that any prefix of c has round-half-up(c * top1)."""
    [standin] = {p.read_text() for p in cache_dir.glob("standins/resnet50-*/expected.json")}
    return {"good": int(count * json.loads(standin)["top1"] / 100 + 0.5), "total": count}


@pytest.fixture(scope="session")
def rootless_user():
    return create_user()


@pytest.fixture(scope="session")
def podman_image(base, cli_env):
    """The default image built by podman as root, from podman's own copy of the local base."""
    podman = PodmanEngine()
    if not podman.image_exists(BASE):
        pipe(["docker", "save", BASE], ["podman", "load"])
    podman.remove_image(TAG)
    proc = mlperf_docker(cli_env, "build", "--runtime", "podman")
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = podman.image_info(TAG)
    assert info is not None  # in podman's store: podman built it
    yield info
    podman.remove_image(TAG)


def test_podman_rootful_builds_and_runs_the_default_variation(podman_image, cli_env, cache_dir, tmp_path):
    out_dir = tmp_path / "results"
    dry = mlperf_docker(cli_env, "run", "--runtime", "podman", "--dry-run", "--output_dir", str(out_dir))
    assert dry.stdout.startswith("podman run --rm --network none --user 65534:65534 "), dry.stdout
    proc = mlperf_docker(cli_env, *RUN, "--runtime", "podman", "--output_dir", str(out_dir))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    check_run(out_dir, 0, podman_image.id, expected_score(24, cache_dir))  # run as nobody, handed back to root
    assert not subprocess.run(["podman", "ps", "-a", "-q", "--filter", "label=io.mlperf-docker.run-id"],
                              capture_output=True, text=True).stdout.strip()  # removed


def test_podman_rootless_keeps_the_users_ownership(podman_image, rootless_user, cache_dir):
    user = rootless_user
    env = user.env(MLPERF_DOCKER_REPOSITORY=REPOSITORY, MLPERF_DOCKER_RUNTIME="podman")  # the runtime from the env
    try:
        user.run(["podman", "rmi", "--force", "--ignore", TAG], env)
        pipe(["podman", "save", "--format", "docker-archive", TAG],
             ["runuser", "-u", user.name, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()), "podman", "load"])
        image_id = json.loads(user.run(["podman", "image", "inspect", TAG], env).stdout)[0]["Id"]
        out_dir = user.folder("results-podman")
        dry = user.mlperf_docker(env, "run", "--dry-run", "--output_dir", str(out_dir))
        assert dry.stdout.startswith(f"podman run --rm --network none --userns keep-id --user {user.uid}:{user.gid} "), \
            dry.stdout + dry.stderr
        proc = user.mlperf_docker(env, *RUN, "--output_dir", str(out_dir))
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        check_run(out_dir, user.uid, image_id, expected_score(24, cache_dir))
    finally:
        user.run(["podman", "rmi", "--force", "--ignore", TAG], env)
        stop_podman_pause(user)


def test_rootless_docker_keeps_the_users_ownership(built_image, cli_env, rootless_user, cache_dir):
    user = rootless_user
    daemon = RootlessDocker(user)
    daemon.start()
    try:
        assert "rootless" in daemon.docker("info", "--format", "{{json .SecurityOptions}}", text=True).stdout
        # The image reaches the user's daemon as `bundle sif` exports it for apptainer: a docker-archive.
        exported = user.folder("sif-export")
        proc = mlperf_docker(cli_env, "bundle", "sif", "--output", str(exported))
        assert proc.returncode == 0, proc.stderr[-2000:]
        archive = exported / sif_name(TAG).replace(".sif", ".tar")
        assert f"apptainer build {sif_name(TAG)} docker-archive://{archive.name}" in (exported / "build-sif.sh").read_text()
        archive.chmod(0o644)
        loaded = daemon.docker("load", "--input", str(archive), text=True)
        assert loaded.returncode == 0 and f"Loaded image: {TAG}" in loaded.stdout, loaded.stderr
        env = user.env(MLPERF_DOCKER_REPOSITORY=REPOSITORY, DOCKER_HOST=daemon.host)
        out_dir = user.folder("results-docker")
        dry = user.mlperf_docker(env, "run", "--dry-run", "--output_dir", str(out_dir))
        assert dry.stdout.startswith("docker run --rm --network none --user 0:0 "), dry.stdout + dry.stderr
        proc = user.mlperf_docker(env, *RUN, "--output_dir", str(out_dir))
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        image_id = daemon.docker("image", "inspect", "--format", "{{.Id}}", TAG, text=True).stdout.strip()
        check_run(out_dir, user.uid, image_id, expected_score(24, cache_dir))
    finally:
        daemon.stop()
        subprocess.run(["rm", "-rf", str(user.home / "rootless-docker"), str(user.home / "sif-export")], check=False)
