"""`fetch` of a gated Hugging Face checkpoint (llama2's `hf_repo`) from a fake Hub on loopback: the user's
token from --hf-token-file or HF_TOKEN, sent to the Hub only (never to the CDN an LFS resolve redirects
to, never into a file or message); every file verified (sha256 / git blob sha1) before it is moved into
place; the commit recorded in the lock file; `run --real` mounts the fetched folder read-only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from fake_hub import COMMIT, FakeHub
from mlperf_harness.contract import CUSTOM_MODEL_DIR

from launcher import settings as cfg
from launcher.airgap import fetch, hub
from launcher.airgap.lockfile import LOCK_NAME
from launcher.errors import UsageError
from launcher.run.options import RunOptions
from launcher.run.plan import make_plan
from launcher.session import Session
from launcher.spec.model import DEFAULT_SPEC, load_spec
from launcher.spec.variation import parse_variation
from unit_support import cli

pytestmark = pytest.mark.timeout(60)

TOKEN = "hf_unitTESTtokenNEVERwritten0123456789"
VARIATION = "_pytorch,_cpu,_llama2-70b-99"
REPO = "meta-llama/Llama-2-70b-chat-hf"
FILES = {"config.json": b'{"model_type": "llama"}\n', "tokenizer.model": b"\x0a\x05piece" * 40,
         "model.safetensors": bytes(range(256)) * 64, "pytorch_model.bin": b"the .bin duplicate, never fetched"}
LFS = {"model.safetensors", "tokenizer.model", "pytorch_model.bin"}


@pytest.fixture
def fake(monkeypatch):
    with FakeHub(REPO, TOKEN, dict(FILES), set(LFS)) as server:
        server.moved = {"config.json"}  # a relative redirect on the Hub: the token follows it
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        yield server


@pytest.fixture
def no_wheels(monkeypatch):
    """The pip half of a fetch stubbed (tests/unit/test_fetch.py and test_airgap.py run it)."""
    monkeypatch.setattr(fetch, "fetch_wheels", lambda session, f, d, py, bars, log: fetch.Outcome(
        "wheels", f"wheels {f}-{d}", session.cache / "wheels", 0, downloaded=False))


@pytest.fixture
def spec_path(tmp_path) -> Path:
    """images.yaml copied (its lock file beside it, written by the fetch)."""
    (tmp_path / "spec").mkdir()
    shutil.copy(DEFAULT_SPEC, tmp_path / "spec" / "images.yaml")
    return tmp_path / "spec" / "images.yaml"


def fetch_cli(spec_path, cache, *extra, env=None):
    return cli("fetch", "-v", VARIATION, "--spec", spec_path, "--cache", cache, *extra, env=env)


def written(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in ([root] if root.is_file() else root.rglob("*"))
            if p.is_file()]


def assert_no_token_anywhere(*roots: Path, texts: str = "") -> None:
    assert TOKEN not in texts
    assert not [p for p in written(*roots) if TOKEN.encode() in p.read_bytes()]


@pytest.mark.parametrize("source", ["file", "env"])
def test_fetch_with_the_token_verifies_records_and_never_leaks_it(fake, no_wheels, spec_path, tmp_path, source):
    cache = tmp_path / "cache"
    if source == "file":
        (tmp_path / "token").write_text(TOKEN + "\n")
        proc = fetch_cli(spec_path, cache, "--hf-token-file", tmp_path / "token")
    else:
        proc = fetch_cli(spec_path, cache, env={"HF_TOKEN": TOKEN})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    folder = cache / "checkpoints" / "meta-llama--Llama-2-70b-chat-hf" / COMMIT
    wanted = {"config.json", "tokenizer.model", "model.safetensors"}  # images.yaml's patterns: no .bin
    assert {p.name for p in folder.iterdir()} == wanted
    assert all((folder / n).read_bytes() == FILES[n] for n in wanted)
    lock = yaml.safe_load((spec_path.parent / LOCK_NAME).read_text())["checkpoints"][f"{REPO}@main"]
    assert lock["commit"] == COMMIT and set(lock["files"]) == wanted
    assert "sha256" in lock["files"]["model.safetensors"] and "git_sha1" in lock["files"]["config.json"]
    # The token went to the Hub as a bearer header on every request, never to the CDN (which refuses it).
    assert fake.hub_requests and all(h.get("Authorization") == f"Bearer {TOKEN}" for _, h in fake.hub_requests)
    assert {p.split("?")[0] for p, _ in fake.cdn_requests} == {"/blobs/model.safetensors", "/blobs/tokenizer.model"}
    assert not [h for _, h in fake.cdn_requests if "Authorization" in h]
    assert f"/{REPO}/resolve/{COMMIT}/config.json?moved=1" in [p for p, _ in fake.hub_requests]
    assert_no_token_anywhere(cache, spec_path.parent, texts=proc.stdout + proc.stderr)
    # A second fetch verifies the cached folder against the lock file and asks the Hub nothing, token or not.
    before = len(fake.hub_requests)
    again = fetch_cli(spec_path, cache)
    assert again.returncode == 0 and "nothing to download" in again.stdout, again.stdout + again.stderr
    assert len(fake.hub_requests) == before


def test_no_token_is_one_line_and_writes_nothing(fake, no_wheels, spec_path, tmp_path):
    proc = fetch_cli(spec_path, tmp_path / "cache")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and "is gated: give your own Hugging Face token with --hf-token-file FILE or HF_TOKEN" \
        in lines[0], lines
    assert not (tmp_path / "cache").exists() and not (spec_path.parent / LOCK_NAME).exists()
    assert not fake.hub_requests
    (tmp_path / "empty").write_text("\n")
    bad = fetch_cli(spec_path, tmp_path / "cache", "--hf-token-file", tmp_path / "empty")
    assert bad.returncode == 2 and "expected one token on one line" in bad.stdout + bad.stderr
    # --all leaves the gated checkpoint out with a line instead (a lab without access still fetches the rest)
    session = Session(cfg.Settings(spec=load_spec(spec_path), config=cfg.UserConfig(), cache=tmp_path / "c2"))
    said = []
    session.say = said.append
    report = fetch.fetch(session, [parse_variation(VARIATION, session.spec)], show_progress=False, skip_gated=True)
    assert not report.downloaded and not fake.hub_requests
    assert said == [f"{REPO}@main: left out ({hub.no_token(session.spec.backend('llama2-70b-99', 'pytorch').hf_repo)})"]


@pytest.mark.parametrize("where", ["listing", "download"])
def test_a_refused_token_leaves_nothing_complete(fake, no_wheels, spec_path, tmp_path, where):
    token = "hf_someoneELSEStoken"
    if where == "download":  # the token is valid, the licence not accepted: files refused, not the listing
        fake.token, fake.refuse_resolve = token, True
    proc = fetch_cli(spec_path, tmp_path / "cache", env={"HF_TOKEN": token})
    assert proc.returncode == 6, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]  # (and a failed bar)
    assert len(lines) == 1 and "the Hugging Face Hub refused the token (HTTP 403): check it, and accept the " \
        "model's licence on https://huggingface.co/meta-llama/Llama-2-70b-chat-hf" in lines[0], proc.stderr
    assert token not in proc.stdout + proc.stderr
    assert not (spec_path.parent / LOCK_NAME).exists()
    checkpoints = tmp_path / "cache" / "checkpoints" / "meta-llama--Llama-2-70b-chat-hf"
    assert not (checkpoints / COMMIT).exists() and not [p for p in written(checkpoints) if p.stat().st_size]
    assert_no_token_anywhere(tmp_path / "cache")


@pytest.mark.parametrize("name, digest", [("model.safetensors", "sha256"), ("config.json", "git blob sha1")])
def test_a_corrupted_file_is_deleted_naming_both_digests(fake, no_wheels, spec_path, tmp_path, name, digest):
    fake.corrupt.add(name)
    proc = fetch_cli(spec_path, tmp_path / "cache", env={"HF_TOKEN": TOKEN})
    assert proc.returncode == 6, proc.stdout + proc.stderr
    listed = next(s for s in fake.listing()["siblings"] if s["rfilename"] == name)
    want = listed["lfs"]["sha256"] if "lfs" in listed else listed["blobId"]
    assert f"{name}: {digest} mismatch (expected {want}, got " in proc.stdout + proc.stderr
    assert "the file was deleted" in proc.stdout + proc.stderr
    checkpoints = tmp_path / "cache" / "checkpoints" / "meta-llama--Llama-2-70b-chat-hf"
    assert not (checkpoints / COMMIT).exists()  # only the .partial staging folder, without the bad file
    assert not [p for p in written(checkpoints) if p.name.startswith(name)]
    assert not (spec_path.parent / LOCK_NAME).exists()
    assert_no_token_anywhere(tmp_path / "cache", texts=proc.stdout + proc.stderr)
    # Fixed upstream: the next fetch keeps the verified files and completes.
    fake.corrupt.clear()
    assert fetch_cli(spec_path, tmp_path / "cache", env={"HF_TOKEN": TOKEN}).returncode == 0
    assert (checkpoints / COMMIT / name).read_bytes() == FILES[name]


def test_later_fetches_must_match_the_locked_commit(fake, no_wheels, spec_path, tmp_path):
    assert fetch_cli(spec_path, tmp_path / "cache", env={"HF_TOKEN": TOKEN}).returncode == 0
    fake.files["config.json"] = b'{"model_type": "llama", "changed": true}\n'
    proc = fetch_cli(spec_path, tmp_path / "other-cache", env={"HF_TOKEN": TOKEN})
    assert proc.returncode == 6
    assert f"the Hub's listing of {COMMIT} differs from" in proc.stderr, proc.stderr
    assert "at config.json (expected git_sha1 " in proc.stderr and ", got git_sha1 " in proc.stderr
    assert fake.hub_requests[-1][0] == f"/api/models/{REPO}/revision/{COMMIT}?blobs=true"  # the locked commit


def test_run_real_mounts_the_fetched_folder_read_only(fake, no_wheels, spec_path, tmp_path):
    session = Session.open(spec_path, cache=tmp_path / "cache")
    variation = parse_variation(VARIATION, session.spec)
    data = tmp_path / "orca"
    data.mkdir()
    (data / "open_orca_gpt4_tokenized_llama.sampled_24576.pkl").write_bytes(b"x")
    options = RunOptions.of(output_dir=tmp_path / "out", standin=False, dataset_path=data)
    with pytest.raises(UsageError, match=r"the real llama2-70b-99 checkpoint \(meta-llama/Llama-2-70b-chat-hf\) is "
                                         r"not fetched .*: run `mlperf-docker fetch --variation .*llama2-70b-99.* "
                                         r"--hf-token-file FILE` first, or pass your copy with --model DIR"):
        make_plan(session, variation, options)
    assert fetch_cli(spec_path, tmp_path / "cache", env={"HF_TOKEN": TOKEN}).returncode == 0
    plan = make_plan(session, variation, options)
    target = f"{CUSTOM_MODEL_DIR}/Llama-2-70b-chat-hf"
    [mount] = [m for m in plan.mounts if m.target == target]
    assert mount.read_only and Path(mount.source) == tmp_path / "cache" / "checkpoints" / \
        "meta-llama--Llama-2-70b-chat-hf" / COMMIT
    assert plan.benchmark.model_path == target
    assert plan.image.endswith(":llama2-70b-99-fp32-standin") and plan.image_standin  # never baked
    assert TOKEN not in plan.docker_run_line()
    # --model DIR still mounts the user's own copy instead (with --real too: the same image)
    own = tmp_path / "my-llama"
    own.mkdir()
    (own / "config.json").write_text("{}")
    mine = make_plan(session, variation, RunOptions.of(output_dir=tmp_path / "out", standin=False,
                                                       dataset_path=data, custom_model=own))
    assert [(m.source, m.target) for m in mine.mounts if m.target.startswith(CUSTOM_MODEL_DIR)] == \
        [(str(own), f"{CUSTOM_MODEL_DIR}/my-llama")]
    assert mine.image == plan.image


def test_read_token_never_quotes_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", " hf_fromTHEenv \n")
    assert hub.read_token(None) == "hf_fromTHEenv"
    (tmp_path / "t").write_text("hf_two tokens\n")
    with pytest.raises(UsageError) as exc:
        hub.read_token(tmp_path / "t")
    assert "hf_two" not in str(exc.value)
    with pytest.raises(UsageError, match="cannot read it"):
        hub.read_token(tmp_path / "missing")


def test_build_real_refuses_before_writing_and_the_schema_checks_hf_repo(tmp_path):
    proc = cli("build", "--real", "-v", VARIATION, "--cache", tmp_path / "cache")
    assert proc.returncode == 2 and "are never baked into an image" in proc.stdout + proc.stderr
    assert not (tmp_path / "cache").exists()
    raw = yaml.safe_load(DEFAULT_SPEC.read_text())
    backend = raw["models"]["llama2-70b-99"]["backends"]["pytorch"]
    backend["hf_repo"]["repo"] = "not a repo"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(raw))
    bad = cli("list", "--spec", tmp_path / "bad.yaml")
    assert bad.returncode == 2 and "models.llama2-70b-99.backends.pytorch.hf_repo.repo" in bad.stdout + bad.stderr
