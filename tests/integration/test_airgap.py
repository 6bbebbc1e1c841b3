"""Air-gapped labs end to end: fetch from loopback servers into an empty cache, build --offline with
no network, run; bundle save / remove / load / run; a build given a CA bundle and an index URL leaves
neither in the image.

One cache and one offline build serve the whole module; servers bind 127.0.0.1 and stop at the end.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import docker
import pytest
import yaml

from launcher.build import artifacts
from launcher.build.artifacts import artifact_path
from launcher.airgap.lockfile import LOCK_NAME
from launcher.spec.model import DEFAULT_SPEC, load_spec
from integration_support import mlperf_docker

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

REPOSITORY = "mlperf-docker-airgap-test"
TAG = f"{REPOSITORY}/onnxruntime-cpu:resnet50-fp32-standin"
REAL_TAG = f"{REPOSITORY}/onnxruntime-cpu:resnet50-fp32"
CA_REPOSITORY = "mlperf-docker-airgap-test-ca"
CA_TAG = f"{CA_REPOSITORY}/onnxruntime-cpu:resnet50-fp32-standin"


class Served:
    """A folder served over HTTP(S) on 127.0.0.1 from a thread; records the paths asked for."""

    def __init__(self, root: Path, tls: tuple[Path, Path] | None = None):
        self.paths: list[str] = []
        paths = self.paths

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                paths.append(self.path)
                super().do_GET()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.httpd.daemon_threads = True
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("airgap")


@pytest.fixture(scope="module")
def env(base, work):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MLPERF_DOCKER_")}
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        environment.pop(key, None)
    environment.update(
        MLPERF_DOCKER_BASE_CPU=base,
        MLPERF_DOCKER_CACHE=str(work / "cache"),
        MLPERF_DOCKER_REPOSITORY=REPOSITORY,
        MLPERF_DOCKER_CONFIG=str(work / "config.yaml"),
        TESTCONTAINERS_RYUK_DISABLED="true",
        no_proxy="127.0.0.1,localhost",
        COLUMNS="200",
    )
    return environment


@pytest.fixture(scope="module")
def model_server(work, env):
    """The resnet50 stand-in's ONNX model, served as if it were the real artifact.

    The stand-in is generated into the test's cache (as a stand-in build would); the cache holds no
    artifact and no wheel before the first fetch."""
    made = artifacts.standin("resnet50", Path(env["MLPERF_DOCKER_CACHE"]), log=lambda m: None)
    root = work / "www"
    (root / "models").mkdir(parents=True)
    shutil.copy2(made / "model" / "resnet50_v1.onnx", root / "models" / "resnet50_v1.onnx")
    served = Served(root)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def spec_copy(work, model_server, env):
    """images.yaml with the artifact URL on the loopback server and only an md5, as MLCommons publishes."""
    model = (work / "www" / "models" / "resnet50_v1.onnx").read_bytes()
    raw = yaml.safe_load(DEFAULT_SPEC.read_text())
    raw["models"]["resnet50"]["backends"]["onnxruntime"]["artifact"] = {
        "name": "resnet50_v1.onnx", "url": f"{model_server.url}/models/resnet50_v1.onnx",
        "md5": hashlib.md5(model).hexdigest()}
    path = work / "spec" / "images.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert mlperf_docker(env, "render", "--spec", str(path)).returncode == 0
    return path


@pytest.fixture(scope="module")
def cleanup_images(docker_client):
    yield
    for tag in (TAG, REAL_TAG, CA_TAG):
        try:
            docker_client.images.remove(tag, force=True)
        except docker.errors.ImageNotFound:
            pass


@pytest.fixture(scope="module")
def fetched(env, spec_copy, model_server, cleanup_images):
    proc = mlperf_docker(env, "fetch", "--spec", str(spec_copy), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_fetch_from_an_empty_cache_then_nothing_to_download(env, spec_copy, fetched, model_server):
    assert fetched.stdout.startswith("fetched 1 artifact and 1 wheelhouse"), fetched.stdout
    assert model_server.paths.count("/models/resnet50_v1.onnx") == 1
    cache = Path(env["MLPERF_DOCKER_CACHE"])
    artifact = load_spec(spec_copy).backend("resnet50", "onnxruntime").artifact
    model = artifact_path(artifact, cache)
    assert hashlib.md5(model.read_bytes()).hexdigest() == artifact.md5
    lock = yaml.safe_load((spec_copy.parent / LOCK_NAME).read_text())["artifacts"][artifact.url]
    assert lock["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest() and lock["size"] == model.stat().st_size
    assert list((cache / "wheels").glob("onnxruntime-cpu-cp311/onnxruntime-1.32.0-*.whl"))

    started = time.monotonic()
    again = mlperf_docker(env, "fetch", "--spec", str(spec_copy))
    seconds = time.monotonic() - started
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("nothing to download: 1 artifact and 1 wheelhouse already in the cache")
    assert model_server.paths.count("/models/resnet50_v1.onnx") == 1
    size = sum(p.stat().st_size for p in (cache / "artifacts").rglob("*") if p.is_file()) + \
        sum(p.stat().st_size for p in (cache / "wheels").rglob("*") if p.is_file())
    print(f"\n[fetch] cached fetch {seconds:.1f} s (CLI start included); artifacts + wheels {size / 1e6:.1f} MB",
          file=sys.stderr)


def _build_log(env, tag: str) -> str:
    return (Path(env["MLPERF_DOCKER_CACHE"]) / "logs" / f"build-{tag.replace('/', '_').replace(':', '_')}.log").read_text()


@pytest.fixture(scope="module")
def offline_image(env, spec_copy, fetched, docker_client):
    proc = mlperf_docker(env, "build", "--offline", "--spec", str(spec_copy))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return docker_client.images.get(TAG)


def _run(env, spec_copy, out_dir: Path, *extra):
    proc = mlperf_docker(env, "run", "--offline", "--spec", str(spec_copy), "--mode", "accuracy", "--count", "20",
                         "--output_dir", str(out_dir), *extra, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    [accuracy] = out_dir.glob("*/*/resnet50/Offline/accuracy/accuracy.txt")
    assert "total=20" in accuracy.read_text()


def test_offline_build_uses_no_network_and_runs(env, spec_copy, offline_image, tmp_path):
    first_line = _build_log(env, TAG).splitlines()[0]
    assert "--network none" in first_line
    _run(env, spec_copy, tmp_path / "results")


def test_offline_real_build_takes_the_model_from_the_cache(env, spec_copy, offline_image, docker_client):
    proc = mlperf_docker(env, "build", "--offline", "--real", "--spec", str(spec_copy))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "--network none" in _build_log(env, REAL_TAG).splitlines()[0]
    assert docker_client.images.get(REAL_TAG).labels["io.mlperf-docker.artifacts"] == "real"


def test_offline_build_of_something_not_fetched_fails_before_building(env, spec_copy, tmp_path):
    proc = mlperf_docker(dict(env, MLPERF_DOCKER_CACHE=str(tmp_path / "empty")), "build", "--offline", "--real",
                         "--spec", str(spec_copy))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"error: wheels for onnxruntime-cpu are not in the cache {tmp_path / 'empty'}/wheels/"
                                   "onnxruntime-cpu-cp311; run `mlperf-docker fetch --variation _onnxruntime,_cpu` "
                                   "on a connected machine")


def test_bundle_round_trip(env, spec_copy, offline_image, docker_client, tmp_path):
    out = tmp_path / "bundle.tar"
    saved = mlperf_docker(env, "bundle", "save", "--spec", str(spec_copy), "-o", str(out))
    assert saved.returncode == 0, saved.stderr[-2000:]
    size = out.stat().st_size
    print(f"\n[bundle] {TAG}: {size / 1e6:.1f} MB", file=sys.stderr)
    again = mlperf_docker(env, "bundle", "save", "--spec", str(spec_copy), "-o", str(out))
    assert again.returncode == 2 and "already exists" in again.stderr and out.stat().st_size == size

    image_id = offline_image.id
    docker_client.images.remove(TAG, force=True)
    loaded = mlperf_docker(env, "bundle", "load", str(out), "--spec", str(spec_copy))
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.startswith(f"loaded {TAG} ")
    assert docker_client.images.get(TAG).id == image_id
    _run(env, spec_copy, tmp_path / "results")


@pytest.fixture(scope="module")
def tls(work):
    cert, key = work / "lab-ca.pem", work / "lab-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=30)
    return cert, key


@pytest.fixture(scope="module")
def lab_index(work, env, fetched, tls):
    """A PEP 503 simple index over HTTPS (the lab CA's certificate) holding the fetched wheels."""
    root = work / "index"
    wheels = Path(env["MLPERF_DOCKER_CACHE"]) / "wheels" / "onnxruntime-cpu-cp311"
    (root / "files").mkdir(parents=True)
    projects: dict[str, list[str]] = {}
    for wheel in sorted(wheels.rglob("*.whl")):  # the shared environment's and the model layers' (model-wheels/)
        shutil.copy2(wheel, root / "files" / wheel.name)
        project = re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        projects.setdefault(project, []).append(f'<a href="../../files/{wheel.name}#sha256={digest}">{wheel.name}</a>')
    for project, links in projects.items():
        (root / "simple" / project).mkdir(parents=True)
        (root / "simple" / project / "index.html").write_text("<html><body>" + "<br>".join(links) + "</body></html>")
    served = Served(root, tls=tls)
    yield served
    served.stop()


def _needles_in(stream, needles: list[bytes]) -> set[bytes]:
    found, tail, keep = set(), b"", max(len(n) for n in needles)
    for chunk in stream:
        window = tail + chunk
        found.update(n for n in needles if n in window)
        tail = window[-keep:]
    return found


def test_ca_bundle_and_index_url_reach_pip_but_not_the_image(env, spec_copy, work, tls, lab_index, docker_client, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(Path(env["MLPERF_DOCKER_CACHE"]) / "standins", cache / "standins")  # local generation only
    index_url = f"{lab_index.url}/simple/"
    build_env = {k: v for k, v in env.items() if not k.startswith("PIP_")}
    build_env.update(MLPERF_DOCKER_CACHE=str(cache), MLPERF_DOCKER_REPOSITORY=CA_REPOSITORY, PIP_CONFIG_FILE=os.devnull)
    proc = mlperf_docker(build_env, "build", "--spec", str(spec_copy), "--index-url", index_url, "--ca-bundle", str(tls[0]))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "/simple/onnxruntime/" in lab_index.paths  # pip read the lab index, over TLS it trusted through the CA
    assert any(p.startswith("/files/onnxruntime-1.32.0-") for p in lab_index.paths)

    pem = tls[0].read_text()
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    needles = [body[40:88].encode(), lab_index.url.removeprefix("https://").encode(), str(tls[0]).encode()]
    history = subprocess.run(["docker", "history", "--no-trunc", CA_TAG], capture_output=True, check=True, timeout=60).stdout
    inspect = subprocess.run(["docker", "image", "inspect", CA_TAG], capture_output=True, check=True, timeout=60).stdout
    # Each scan also looks for a string that must be there, so a scan that sees nothing cannot pass.
    assert _needles_in([history, inspect], needles + [b"/opt/mlperf/harness"]) == {b"/opt/mlperf/harness"}
    container = docker_client.containers.create(CA_TAG, command=["true"], network_mode="none")
    try:
        found = _needles_in(container.export(chunk_size=1 << 20), needles + [b"mlperf_loadgen"])
    finally:
        container.remove(force=True)
    assert found == {b"mlperf_loadgen"}
