"""fetch: downloads from a real HTTP server on loopback, digests, the lock file, resume, error lines.

The wheels half of a fetch (pip) is stubbed here; tests/integration/test_airgap.py runs it for real.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
import re
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from launcher import settings as cfg
from launcher.airgap import fetch
from launcher.airgap import mirror
from launcher.build import wheelhouse
from launcher.build.artifacts import artifact_path
from launcher.errors import UsageError
from launcher.airgap.lockfile import LOCK_NAME
from launcher.session import Session
from launcher.spec.model import DEFAULT_SPEC, load_spec
from launcher.spec.variation import parse_variation
from unit_support import cli

pytestmark = pytest.mark.timeout(60)


# ---- a loopback server ---------------------------------------------------------------------------

class LoopbackServer:
    """http.server on 127.0.0.1 in a thread. Serves `files` with Range support; paths in `drop_once`
    send half the body on their first request and close the connection; paths in `ignore_range`
    always answer 200 with the whole body. Records (path, Range header) of every request."""

    def __init__(self, tls: tuple[Path, Path] | None = None):
        self.files: dict[str, bytes] = {}
        self.drop_once: set[str] = set()
        self.ignore_range: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.requests.append((self.path, self.headers.get("Range")))
                body = owner.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                wanted = self.headers.get("Range")
                if wanted and self.path not in owner.ignore_range:
                    start = int(re.match(r"bytes=(\d+)-$", wanted)[1])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if self.path in owner.drop_once:
                    owner.drop_once.discard(self.path)
                    self.wfile.write(body[start: start + (len(body) - start) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.base = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def url(self, path: str) -> str:
        return self.base + path

    def ranges(self, path: str) -> list[str | None]:
        return [r for p, r in self.requests if p == path]


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


PAYLOAD = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32 + 7)  # ~3 MiB, not chunk-aligned


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def spec_copy(folder: Path, url: str, **digests) -> Path:
    """images.yaml with the resnet50 artifact pointed at `url` with the given digests (md5, sha256, size)."""
    raw = yaml.safe_load(DEFAULT_SPEC.read_text())
    raw["models"]["resnet50"]["backends"]["onnxruntime"]["artifact"] = {"name": "resnet50_v1.onnx", "url": url, **digests}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "images.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def session_for(spec_path: Path, cache: Path, **kwargs) -> Session:
    return Session(cfg.Settings(spec=load_spec(spec_path), config=cfg.UserConfig(), cache=cache, **kwargs))


@pytest.fixture
def no_wheels(monkeypatch):
    """Stub the pip half: the wheelhouse counts as cached."""
    def stub(session, framework, device, python, progress, log):
        return fetch.Outcome("wheels", f"wheels {framework}-{device}", session.cache / "wheels", 0, downloaded=False)
    monkeypatch.setattr(fetch, "fetch_wheels", stub)


def run_fetch(session, **kwargs):
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("show_progress", False)
    return fetch.fetch(session, [parse_variation(None, session.spec)], **kwargs)


# ---- the happy path and the lock file ------------------------------------------------------------

def test_md5_verified_then_sha256_recorded_and_second_fetch_downloads_nothing(tmp_path, server, no_wheels):
    server.files["/m/resnet50_v1.onnx"] = PAYLOAD
    spec_path = spec_copy(tmp_path / "spec", server.url("/m/resnet50_v1.onnx"), md5=md5(PAYLOAD))
    session = session_for(spec_path, tmp_path / "cache")

    report = run_fetch(session)
    artifact = session.spec.backend("resnet50", "onnxruntime").artifact
    path = artifact_path(artifact, session.cache)
    assert path.read_bytes() == PAYLOAD
    assert path.parent.name == f"md5-{md5(PAYLOAD)}"
    assert not list(path.parent.glob("*.partial*")) and not list(path.parent.glob("*.lock"))
    assert [o.name for o in report.downloaded] == ["resnet50_v1.onnx"]
    lock = yaml.safe_load((spec_path.parent / LOCK_NAME).read_text())
    assert lock["artifacts"][artifact.url] == {"name": "resnet50_v1.onnx", "md5": md5(PAYLOAD),
                                               "sha256": sha256(PAYLOAD), "size": len(PAYLOAD)}

    before = len(server.requests)
    again = run_fetch(session)
    assert len(server.requests) == before
    assert again.downloaded == []
    assert again.summary().startswith("nothing to download: 1 artifact and 1 wheelhouse already in the cache")


def test_later_fetches_check_the_locked_sha256(tmp_path, server, no_wheels):
    server.files["/m/resnet50_v1.onnx"] = PAYLOAD
    spec_path = spec_copy(tmp_path / "spec", server.url("/m/resnet50_v1.onnx"), md5=md5(PAYLOAD))
    session = session_for(spec_path, tmp_path / "cache")
    run_fetch(session)
    lock_path = spec_path.parent / LOCK_NAME
    lock = yaml.safe_load(lock_path.read_text())
    url = server.url("/m/resnet50_v1.onnx")
    lock["artifacts"][url]["sha256"] = "0" * 64
    lock_path.write_text(yaml.safe_dump(lock))
    artifact = session.spec.backend("resnet50", "onnxruntime").artifact
    artifact_path(artifact, session.cache).unlink()

    with pytest.raises(fetch.FetchError) as info:
        run_fetch(session)
    message = str(info.value)
    assert message.startswith("resnet50_v1.onnx: sha256 mismatch")
    assert "0" * 64 in message and sha256(PAYLOAD) in message and str(lock_path) in message
    assert not artifact_path(artifact, session.cache).exists()
    assert not list(artifact_path(artifact, session.cache).parent.glob("*.partial"))


def test_a_corrupted_cached_copy_is_fetched_again(tmp_path, server, no_wheels):
    server.files["/m/resnet50_v1.onnx"] = PAYLOAD
    spec_path = spec_copy(tmp_path / "spec", server.url("/m/resnet50_v1.onnx"), sha256=sha256(PAYLOAD), size=len(PAYLOAD))
    session = session_for(spec_path, tmp_path / "cache")
    run_fetch(session)
    assert not (spec_path.parent / LOCK_NAME).exists()  # sha256 and size in images.yaml: nothing to record
    path = artifact_path(session.spec.backend("resnet50", "onnxruntime").artifact, session.cache)
    path.write_bytes(b"X" + PAYLOAD[1:])
    report = run_fetch(session)
    assert [o.name for o in report.downloaded] == ["resnet50_v1.onnx"]
    assert path.read_bytes() == PAYLOAD


def test_wrong_digest_in_the_spec_deletes_the_file_and_names_both(tmp_path, server, no_wheels):
    server.files["/m/resnet50_v1.onnx"] = PAYLOAD
    wrong = md5(b"something else")
    spec_path = spec_copy(tmp_path / "spec", server.url("/m/resnet50_v1.onnx"), md5=wrong)
    session = session_for(spec_path, tmp_path / "cache")
    with pytest.raises(fetch.FetchError) as info:
        run_fetch(session)
    assert str(info.value) == (f"resnet50_v1.onnx: md5 mismatch (expected {wrong}, got {md5(PAYLOAD)}), downloaded "
                               f"from {server.url('/m/resnet50_v1.onnx')}; the file was deleted")
    folder = artifact_path(session.spec.backend("resnet50", "onnxruntime").artifact, session.cache).parent
    assert list(folder.iterdir()) == []
    assert not (spec_path.parent / LOCK_NAME).exists()


# ---- resume -----------------------------------------------------------------------------------

def test_a_dropped_connection_resumes_with_range(tmp_path, server, no_wheels):
    server.files["/m/resnet50_v1.onnx"] = PAYLOAD
    server.drop_once.add("/m/resnet50_v1.onnx")
    spec_path = spec_copy(tmp_path / "spec", server.url("/m/resnet50_v1.onnx"), md5=md5(PAYLOAD))
    session = session_for(spec_path, tmp_path / "cache")
    run_fetch(session)
    assert server.ranges("/m/resnet50_v1.onnx") == [None, f"bytes={len(PAYLOAD) // 2}-"]
    path = artifact_path(session.spec.backend("resnet50", "onnxruntime").artifact, session.cache)
    assert sha256(path.read_bytes()) == sha256(PAYLOAD)


def test_an_interrupted_fetch_resumes_on_the_next_one(tmp_path, server, no_wheels):
    server.files["/m/resnet50_v1.onnx"] = PAYLOAD
    server.drop_once.add("/m/resnet50_v1.onnx")
    spec_path = spec_copy(tmp_path / "spec", server.url("/m/resnet50_v1.onnx"), md5=md5(PAYLOAD))
    session = session_for(spec_path, tmp_path / "cache")
    with pytest.raises(fetch.FetchError, match=rf"failed after 1 tries: the connection closed after {len(PAYLOAD) // 2} "
                                               rf"of {len(PAYLOAD)} bytes; run the same fetch again to resume"):
        run_fetch(session, retries=0)
    path = artifact_path(session.spec.backend("resnet50", "onnxruntime").artifact, session.cache)
    partial = path.with_name(path.name + ".partial")
    assert partial.stat().st_size == len(PAYLOAD) // 2
    report = run_fetch(session, retries=0)
    assert [o.name for o in report.downloaded] == ["resnet50_v1.onnx"]
    assert server.ranges("/m/resnet50_v1.onnx")[-1] == f"bytes={len(PAYLOAD) // 2}-"
    assert path.read_bytes() == PAYLOAD and not partial.exists()


def test_a_server_that_ignores_range_restarts_the_download(tmp_path, server, no_wheels):
    server.files["/m/resnet50_v1.onnx"] = PAYLOAD
    server.ignore_range.add("/m/resnet50_v1.onnx")
    spec_path = spec_copy(tmp_path / "spec", server.url("/m/resnet50_v1.onnx"), md5=md5(PAYLOAD))
    session = session_for(spec_path, tmp_path / "cache")
    path = artifact_path(session.spec.backend("resnet50", "onnxruntime").artifact, session.cache)
    path.parent.mkdir(parents=True)
    path.with_name(path.name + ".partial").write_bytes(PAYLOAD[:1000])
    run_fetch(session)
    assert server.ranges("/m/resnet50_v1.onnx") == ["bytes=1000-"]  # answered 200: written from the start
    assert path.read_bytes() == PAYLOAD


def test_http_errors_and_unreachable_servers_fail_with_the_url(tmp_path, server, no_wheels):
    spec_path = spec_copy(tmp_path / "spec", server.url("/missing.onnx"), md5=md5(PAYLOAD))
    with pytest.raises(fetch.FetchError, match=r"^resnet50_v1.onnx: http://127.0.0.1:\d+/missing.onnx answered HTTP 404"):
        run_fetch(session_for(spec_path, tmp_path / "cache"))
    spec_path = spec_copy(tmp_path / "spec2", "http://127.0.0.1:9/x.onnx", md5=md5(PAYLOAD))
    with pytest.raises(fetch.FetchError, match=r"downloading http://127.0.0.1:9/x.onnx failed after 2 tries: .*refused"):
        run_fetch(session_for(spec_path, tmp_path / "cache"), retries=1)


# ---- TLS with a CA bundle ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "ca.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=30)
    return cert, key


def test_https_needs_the_ca_bundle(tmp_path, tls_files, no_wheels):
    with LoopbackServer(tls=tls_files) as srv:
        srv.files["/m/resnet50_v1.onnx"] = PAYLOAD
        spec_path = spec_copy(tmp_path / "spec", srv.url("/m/resnet50_v1.onnx"), md5=md5(PAYLOAD))
        with pytest.raises(fetch.FetchError, match="TLS certificate not trusted .*--ca-bundle"):
            run_fetch(session_for(spec_path, tmp_path / "cache"), retries=0)
        report = run_fetch(session_for(spec_path, tmp_path / "cache", ca_bundle=tls_files[0]))
        assert [o.name for o in report.downloaded] == ["resnet50_v1.onnx"]


# ---- plans, offline builds, wheels plumbing ------------------------------------------------------

def test_all_plans_every_supported_image():
    session = Session(cfg.Settings(spec=load_spec(), config=cfg.UserConfig(), cache=Path("/nonexistent")))
    variations = fetch.supported_variations(session.spec)
    plan = fetch.make_plan(session, variations)
    assert "https://zenodo.org/record/4735647/files/resnet50_v1.onnx" in plan.artifacts
    backends = [session.spec.backend(v.model, v.framework, v.precision) for v in variations]  # int8: its own
    scorers = {a.url for v in variations for a in session.spec.models[v.model].accuracy_artifacts}  # sdxl's encoders
    assert scorers and {b.artifact.url for b in backends if b.artifact} | scorers == set(plan.artifacts)
    assert any(b.artifact is None for b in backends)  # tflite: nothing verifiable to fetch
    assert {(v.framework, v.device) for v in variations} == {(f, d) for f, d, _ in plan.wheelhouses}
    assert {("onnxruntime", "cpu"), ("onnxruntime", "cuda"), ("onnxruntime", "rocm")} <= {(f, d) for f, d, _ in plan.wheelhouses}
    assert len(set(plan.wheelhouses)) == len(plan.wheelhouses)
    assert fetch.make_plan(session, variations, models=False).artifacts == {}


def test_offline_real_artifact_missing_or_damaged(tmp_path):
    session = Session(cfg.Settings(spec=load_spec(), config=cfg.UserConfig(), cache=tmp_path))
    variation = parse_variation(None, session.spec)
    artifact = session.spec.backend("resnet50", "onnxruntime").artifact
    with pytest.raises(UsageError, match=r"resnet50_v1.onnx is not in the cache .* --offline build downloads nothing; "
                                         r"run `mlperf-docker fetch --variation _cpu,_onnxruntime,_resnet50,_fp32`"):
        fetch.ensure_artifact(session, artifact, variation, offline=True)
    path = artifact_path(artifact, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not the model")
    with pytest.raises(fetch.FetchError, match=rf"md5 mismatch \(expected {artifact.md5}, got {md5(b'not the model')}\)"):
        fetch.ensure_artifact(session, artifact, variation, offline=True)
    assert not path.exists()


def test_index_url_and_ca_bundle_reach_pip_but_not_the_fingerprint(tmp_path, monkeypatch):
    calls, envs = [], []

    def fake_pip(args, env=None):
        calls.append(args)
        envs.append(env)
        dest = Path(args[args.index("--dest") + 1])
        (dest / "fake-1.0-py3-none-any.whl").write_bytes(b"wheel")
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(wheelhouse, "run_child", fake_pip)
    spec = load_spec()
    ca = tmp_path / "lab-ca.pem"
    ca.write_text("pem")
    target = wheelhouse.ensure(spec, "onnxruntime", "cpu", tmp_path, [], log=lambda m: None,
                               index_url="https://pypi.lab.example/simple", ca_bundle=ca)
    args = calls[0]
    # the index URL (it may carry credentials) travels in pip's environment, not on its command line
    assert envs[0]["PIP_INDEX_URL"] == "https://pypi.lab.example/simple"
    assert not [a for a in args if "pypi.lab.example" in a or a.startswith("--index-url")]
    assert args[args.index("--cert") + 1] == str(ca)
    assert envs[0]["REQUESTS_CA_BUNDLE"] == str(ca)  # else a system-wide REQUESTS_CA_BUNDLE beats --cert
    # An offline build without those options finds the same wheelhouse; its wheels are recorded and checked.
    assert wheelhouse.ensure(spec, "onnxruntime", "cpu", tmp_path, [], offline=True) == target
    assert wheelhouse.verify(target) == []
    (target / "fake-1.0-py3-none-any.whl").write_bytes(b"tampered")
    assert wheelhouse.verify(target) == [("fake-1.0-py3-none-any.whl", sha256(b"wheel"), sha256(b"tampered"))]


# ---- registry mirror -------------------------------------------------------------------------------

@pytest.mark.parametrize("image, expected", [
    ("docker.io/library/python:3.11-slim-bookworm", "mirror.lab:5000/hub/library/python:3.11-slim-bookworm"),
    ("nvcr.io/nvidia/cuda:13.0.2-cudnn-runtime-ubuntu22.04", "mirror.lab:5000/hub/nvcr.io/nvidia/cuda:13.0.2-cudnn-runtime-ubuntu22.04"),
    ("quay.io/org/img@sha256:" + "a" * 64, "mirror.lab:5000/hub/quay.io/org/img@sha256:" + "a" * 64),
    ("mlperf-docker/debian:bookworm", "mlperf-docker/debian:bookworm"),
    ("python:3.11", "python:3.11"),
    ("localhost:5000/base:1", "localhost:5000/base:1"),
    ("mirror.lab:5000/hub/library/python:3.11", "mirror.lab:5000/hub/library/python:3.11"),
])
def test_mirror_rewrites_remote_references_only(image, expected):
    assert mirror.rewrite(image, "https://mirror.lab:5000/hub/") == expected


def test_mirror_applies_to_spec_and_env_bases_but_not_to_base_flags(monkeypatch):
    spec = load_spec()
    monkeypatch.setenv("MLPERF_DOCKER_REGISTRY_MIRROR", "mirror.lab")
    session = Session(cfg.Settings(spec=spec, config=cfg.UserConfig(), cache=Path("/x"),
                                   registry_mirror=cfg.registry_mirror(None, cfg.UserConfig())))
    assert session.base("cpu").image == "mirror.lab/library/python:3.11-slim-bookworm"
    assert session.base("cuda").image.startswith("mirror.lab/nvcr.io/nvidia/cuda:")
    monkeypatch.setenv("MLPERF_DOCKER_BASE_CPU", "mlperf-docker/debian:bookworm")
    assert session.base("cpu").image == "mlperf-docker/debian:bookworm"
    session = Session(replace(session.settings,
                              base_overrides=cfg.parse_base_overrides(["cuda=nvcr.io/nvidia/cuda:13.0.2-base-ubuntu22.04"])))
    assert session.base("cuda").image == "nvcr.io/nvidia/cuda:13.0.2-base-ubuntu22.04"
    assert cfg.registry_mirror("flag.lab", cfg.UserConfig(registry_mirror="config.lab")) == "flag.lab"
    monkeypatch.delenv("MLPERF_DOCKER_REGISTRY_MIRROR")
    assert cfg.registry_mirror(None, cfg.UserConfig(registry_mirror="config.lab")) == "config.lab"


# ---- the command line: one line, an exit code ------------------------------------------------------

def test_cli_digest_mismatch_is_one_line_exit_6(tmp_path, server, no_wheels, monkeypatch):
    server.files["/m/resnet50_v1.onnx"] = PAYLOAD
    spec_path = spec_copy(tmp_path / "spec", server.url("/m/resnet50_v1.onnx"), md5="0" * 32)
    result = cli("fetch", "--spec", str(spec_path), "--cache", str(tmp_path / "cache"))
    assert result.returncode == 6
    [line] = result.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"error: resnet50_v1.onnx: md5 mismatch (expected {'0' * 32}, got {md5(PAYLOAD)})")


def test_cli_fetch_then_nothing_to_download(tmp_path, server, no_wheels):
    server.files["/m/resnet50_v1.onnx"] = PAYLOAD
    spec_path = spec_copy(tmp_path / "spec", server.url("/m/resnet50_v1.onnx"), md5=md5(PAYLOAD))
    first = cli("fetch", "--spec", str(spec_path), "--cache", str(tmp_path / "cache"))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("fetched 1 artifact and 0 wheelhouses")
    second = cli("fetch", "--spec", str(spec_path), "--cache", str(tmp_path / "cache"))
    assert second.returncode == 0 and second.stdout.startswith("nothing to download")


@pytest.mark.parametrize("args, message", [
    (["fetch", "--all", "--variation", "_cpu"], "error: --all and --variation exclude each other"),
    (["fetch", "--variation", "_tpu"], "error: unsupported combination _tpu,_onnxruntime,_resnet50,_fp32:"),
    (["fetch", "--ca-bundle", "/nonexistent/ca.pem", "--dry-run"], "error: CA bundle /nonexistent/ca.pem: no such file"),
    (["fetch", "--jobs", "0"], "error: --jobs 0: expected a positive integer"),
    (["build", "--registry-mirror", "https://bad mirror", "--offline"], "error: registry mirror 'https://bad mirror'"),
])
def test_cli_usage_errors_are_one_line_exit_2(args, message, tmp_path):
    result = cli(*args, env={"MLPERF_DOCKER_CACHE": str(tmp_path)})
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(message)


def test_cli_offline_build_without_wheels_names_the_fetch_command(tmp_path):
    result = cli("build", "--offline", env={"MLPERF_DOCKER_CACHE": str(tmp_path)})
    assert result.returncode == 2
    assert re.fullmatch(r"error: wheels for onnxruntime-cpu are not in the cache \S+; run "
                        r"`mlperf-docker fetch --variation _onnxruntime,_cpu` on a connected machine\n", result.stderr)


def test_dry_run_lists_what_is_needed(tmp_path):
    result = cli("fetch", "--dry-run", "--cache", str(tmp_path))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("artifact resnet50_v1.onnx from https://zenodo.org/") and lines[0].endswith("[to fetch]")
    assert lines[1].startswith("wheels onnxruntime-cpu (Python 3.11)") and lines[1].endswith("[to fetch]")
    wheels_only = cli("fetch", "--dry-run", "--wheels-only", "--cache", str(tmp_path))
    assert wheels_only.stdout.splitlines() == lines[1:]


def test_an_unreachable_extra_index_is_left_out_of_the_wheel_fetch_with_a_warning():
    """pip retries an index it cannot reach for every package (minutes for pytorch's set): the fetch asks
    each extra index once and leaves out one that does not answer, saying so; one that answers (any HTTP
    status) is kept."""
    import http.server
    import threading

    from launcher.build.wheelhouse import _reachable

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answering = f"http://127.0.0.1:{server.server_address[1]}/simple"  # answers 501: reachable
        lines = []
        kept = _reachable([answering, "http://user:secret@127.0.0.1:9/whl/cpu"], None, lines.append)
    finally:
        server.shutdown()
    assert kept == [answering]
    assert len(lines) == 1 and lines[0].startswith("warning: index http://127.0.0.1:9/whl/cpu is not reachable (")
    assert "secret" not in lines[0]
