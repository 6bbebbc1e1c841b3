"""llama2's gated weights end to end: `mlperf-docker fetch` downloads the checkpoint from a fake Hugging Face
Hub on loopback (tests/fake_hub.py: bearer token required, LFS files redirected to a CDN that refuses an
Authorization header) with the user's token from --hf-token-file, verifies it and records the commit; then
`run --real` mounts the fetched folder read-only into the llama2 image (the stand-in's image: the weights
are never baked) and scores the known ROUGE on the stand-in dataset given as the user's --dataset_path.
The token is in no layer, label or file of the image, nor in the run folder, cache, lock file or output."""

from __future__ import annotations

import json
import shutil
import sys
import time

import pytest
from fake_hub import FakeHub
from integration_support import mlperf_docker
from test_models_llm import LLAMA2_IMAGE, accuracy_values, assert_not_in_image, scenario_dir, standin_expected

from launcher.spec.model import DEFAULT_SPEC

pytestmark = pytest.mark.docker

TOKEN = "hf_GATEDfetchTOKENneverINaLAYER9876543210"
VARIATION = "_pytorch,_cpu,_llama2-70b-99"
REPO = "meta-llama/Llama-2-70b-chat-hf"


def test_fetch_with_token_then_run_real_on_the_fetched_checkpoint(cli_env, cache_dir, tmp_path, docker_client):
    env = dict(cli_env, HF_TOKEN=TOKEN)  # also in the build's and run's environment: never used there
    built = mlperf_docker(env, "build", "--variation", VARIATION)  # the image test_models_llm.py built
    assert built.returncode == 0, built.stderr[-3000:]
    started = time.monotonic()
    [standin] = cache_dir.glob("standins/llama2-70b-*/expected.json")
    checkpoint, dataset = standin.parent / "model" / "Llama-2-70b-chat-hf", standin.parent / "dataset"
    files = {p.name: p.read_bytes() for p in checkpoint.iterdir() if p.is_file()}
    lfs = {n for n in files if n.endswith((".safetensors", ".model"))}
    spec_dir = tmp_path / "spec"  # images.yaml's copy: the fetch records the fake commit in the lock beside it
    spec_dir.mkdir()
    shutil.copy(DEFAULT_SPEC, spec_dir / "images.yaml")
    (spec_dir / "dockerfiles").symlink_to(DEFAULT_SPEC.parent / "dockerfiles")
    spec = str(spec_dir / "images.yaml")
    (tmp_path / "token").write_text(TOKEN + "\n")
    out_dir = tmp_path / "out"
    with FakeHub(REPO, TOKEN, files, lfs) as hub:
        fetch_env = dict(cli_env, HF_ENDPOINT=hub.endpoint)
        # (no token, a refused one, a corrupted file, run --real before fetch: tests/unit/test_hub_fetch.py)
        fetched = mlperf_docker(fetch_env, "fetch", "-v", VARIATION, "--spec", spec, "--hf-token-file",
                                str(tmp_path / "token"))
        assert fetched.returncode == 0, fetched.stdout + fetched.stderr
        assert "fetched 1 checkpoint" in fetched.stdout, fetched.stdout
    assert hub.cdn_requests and not [h for _, h in hub.cdn_requests if "Authorization" in h]
    fetch_s = time.monotonic() - started
    run = mlperf_docker(env, "run", "--real", "-v", VARIATION, "--spec", spec, "--scenario", "Offline",
                        "--mode", "accuracy", "--dataset_path", str(dataset), "--output_dir", str(out_dir))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    [run_dir] = out_dir.iterdir()
    run_s = time.monotonic() - started - fetch_s
    record = json.loads((run_dir / "run.json").read_text())
    assert "/opt/mlperf/custom-model/Llama-2-70b-chat-hf" in " ".join(record["harness_command"]), record
    assert record["standin"] is False  # the fetched model and the user's dataset: not a smoke test
    folder = scenario_dir(run_dir, "llama2-70b-99", "Offline")
    assert accuracy_values(folder) == eval_line(standin_expected(cache_dir, "llama2-70b")["line"])
    # The token: not in the image's history, labels or files; not in the run folder, cache, lock or output.
    assert_not_in_image(docker_client, LLAMA2_IMAGE, TOKEN)
    outputs = "".join(p.stdout + p.stderr for p in (built, fetched, run))
    assert TOKEN not in outputs
    written = [p for root in (run_dir, cache_dir / "checkpoints", cache_dir / "logs", cache_dir / "locks")
               for p in root.rglob("*") if p.is_file()] + [spec_dir / "images.lock.yaml"]
    assert not [p for p in written if TOKEN.encode() in p.read_bytes()]
    print(f"\n[gated] fetch {fetch_s:.1f} s, run --real {run_s:.1f} s, all with the token checks "
          f"{time.monotonic() - started:.1f} s", file=sys.stderr)


def eval_line(line: str) -> dict:
    import ast

    return ast.literal_eval(line)
