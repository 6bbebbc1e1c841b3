"""gptj-99 and llama2-70b-99 in containers, from `mlperf-docker build` and `run` on their stand-ins
(1-layer GPTJForCausalLM / LlamaForCausalLM checkpoints through transformers, generated tokenizers):
every scenario the reference runs each in, accuracy and performance, one container run per model.
The accuracy lines are the stand-ins' known ROUGE 100, gen_len and tokens_per_sample in the checker's
format, scored by rouge-score inside the image with no network; the performance summaries carry
LoadGen's token metrics (llama2: TTFT from FirstTokenComplete and TPOT; gptj: inferred). A fake
Hugging Face token in the launcher's environment never reaches the image or the run's output. The
llama2 interactive variant runs in the same image (no build) under LoadGen's llama2-70b-interactive key
(its own 450 ms / 40 ms limits), with TEST06 verified on its logged responses."""

from __future__ import annotations

import ast
import json
import subprocess
import time
from pathlib import Path

import pytest
from integration_support import REPOSITORY, mlperf_docker

pytestmark = pytest.mark.docker

FAKE_TOKEN = "hf_FAKEtokenNEVERinANYlayer0123456789"


def standin_expected(cache_dir: Path, name: str) -> dict:
    [path] = cache_dir.glob(f"standins/{name}-*/expected.json")
    return json.loads(path.read_text())


def build_and_run(env, out_dir: Path, variation: str, scenarios, *extra: str):
    proc = mlperf_docker(env, "build", "--variation", variation)
    assert proc.returncode == 0, proc.stderr[-3000:]
    args = ("run", "--variation", variation, "--scenario", ",".join(scenarios), "--output_dir", str(out_dir),
            "--mode", "both", *extra)
    dry = mlperf_docker(env, *args, "--dry-run")
    assert dry.returncode == 0 and "--network none" in dry.stdout, dry.stdout + dry.stderr
    proc = mlperf_docker(env, *args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [run_dir] = out_dir.iterdir()
    return run_dir, proc


def scenario_dir(run_dir: Path, model: str, scenario: str) -> Path:
    [path] = run_dir.glob(f"*/{model}/{scenario}")
    return path


def accuracy_values(path: Path) -> dict:
    line = (path / "accuracy" / "accuracy.txt").read_text().strip().splitlines()[-1]
    return ast.literal_eval(line)


LLAMA2_IMAGE = f"{REPOSITORY}/pytorch-cpu:llama2-70b-99-fp32-standin"


def assert_not_in_image(docker_client, tag: str, secret: str) -> None:
    """`secret` is in none of the image's history, labels, environment or files (grepped in a container)."""
    image = docker_client.images.get(tag)
    assert secret not in json.dumps(image.history()) + json.dumps(image.attrs)
    found = subprocess.run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "grep", tag,
                            "-rl", secret, "/opt", "/tmp", "/etc"], capture_output=True, text=True)
    assert found.returncode == 1 and not found.stdout, found.stdout + found.stderr


def summary(path: Path) -> str:
    return (path / "performance" / "run_1" / "mlperf_log_summary.txt").read_text()


def test_gptj_every_scenario(cli_env, cache_dir, tmp_path):
    scenarios = ("Offline", "Server", "SingleStream")
    run_dir, proc = build_and_run(cli_env, tmp_path / "r", "_pytorch,_cpu,_gptj-99", scenarios,
                                  "--count", "1", "--test_query_count", "1")
    known = standin_expected(cache_dir, "gptj")
    per_sample = known["tokens_per_sample"]
    chain_chars = ast.literal_eval(known["line"])["gen_len"] // known["samples"]
    for scenario in scenarios:
        folder = scenario_dir(run_dir, "gptj-99", scenario)
        assert accuracy_values(folder) == {"rouge1": 100.0, "rouge2": 100.0, "rougeL": 100.0, "rougeLsum": 100.0,
                                           "gen_len": chain_chars, "gen_num": 1}, scenario
        text = summary(folder)
        assert f"Scenario : {scenario}" in text, text
        if scenario != "SingleStream":  # LoadGen reports the inferred token rate for the throughput scenarios
            assert "tokens per second (inferred)" in text.lower(), text
    # int64 responses of 128 tokens (the reference's dtype), as the scorer reads them
    log = json.loads((scenario_dir(run_dir, "gptj-99", "Offline") / "accuracy" / "mlperf_log_accuracy.json").read_text())
    assert {len(entry["data"]) // 2 for entry in log} == {8 * per_sample}
    assert "beams: 4" in proc.stdout + proc.stderr
    assert "tokens/s" in proc.stdout  # the run table's token throughput (inferred by LoadGen)


def test_llama2_offline_and_server_and_no_token_leak(cli_env, cache_dir, tmp_path, docker_client):
    env = dict(cli_env, HF_TOKEN=FAKE_TOKEN, HUGGING_FACE_HUB_TOKEN=FAKE_TOKEN)
    run_dir, proc = build_and_run(env, tmp_path / "r", "_pytorch,_cpu,_llama2-70b-99", ("Offline", "Server"),
                                  "--test_query_count", "4")
    known = standin_expected(cache_dir, "llama2-70b")
    expected = ast.literal_eval(known["line"])
    for scenario in ("Offline", "Server"):
        folder = scenario_dir(run_dir, "llama2-70b-99", scenario)
        assert accuracy_values(folder) == expected, scenario
        assert "'tokens_per_sample': " in (folder / "accuracy" / "accuracy.txt").read_text()
    server = summary(scenario_dir(run_dir, "llama2-70b-99", "Server"))
    for key in ("Completed tokens per second", "99.00 percentile first token latency (ns)",
                "99.00 percentile time to output token (ns)", "ttft_latency (ns): 2000000000",
                "tpot_latency (ns): 200000000"):
        assert key in server, key
    assert "Tokens per second" in summary(scenario_dir(run_dir, "llama2-70b-99", "Offline"))
    assert "first tokens streamed" in proc.stdout + proc.stderr
    assert "TTFT p99" in proc.stdout  # the run table's token latencies and their limits
    # The gated-weights token: not in the image's history, labels, environment or files, nor the run's output.
    assert_not_in_image(docker_client, LLAMA2_IMAGE, FAKE_TOKEN)
    assert FAKE_TOKEN not in proc.stdout + proc.stderr
    assert not [p for p in run_dir.rglob("*") if p.is_file() and FAKE_TOKEN in p.read_text(errors="replace")]
    check_interactive_and_test06(env, tmp_path / "i", docker_client)


def check_interactive_and_test06(env, out_dir: Path, docker_client):
    """_llama2-70b-interactive-99 in llama2-70b-99's image: a short Server performance run and TEST06."""
    images = {t for i in docker_client.images.list(name=f"{REPOSITORY}/pytorch-cpu") for t in i.tags}
    started = time.monotonic()
    proc = mlperf_docker(env, "run", "--variation", "_pytorch,_cpu,_llama2-70b-interactive-99", "--scenario", "Server",
                         "--mode", "performance", "--compliance", "TEST06", "--server_target_qps", "20",
                         "--test_query_count", "4", "--output_dir", str(out_dir))
    print(f"interactive + TEST06 run: {time.monotonic() - started:.1f} s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert {t for i in docker_client.images.list(name=f"{REPOSITORY}/pytorch-cpu") for t in i.tags} == images
    [run_dir] = out_dir.iterdir()
    folder = scenario_dir(run_dir, "llama2-70b-interactive-99", "Server")
    text = summary(folder)
    assert "ttft_latency (ns): 450000000" in text and "tpot_latency (ns): 40000000" in text, text
    assert "limit 450 ms" in proc.stdout and "limit 40 ms" in proc.stdout  # the run table's limits
    verify = (folder / "TEST06" / "verify_accuracy.txt").read_text()
    assert verify.splitlines()[:3] == ["First token check pass: True", "EOS check pass: True",
                                       "Sample length check pass: True"], verify
    assert verify.rstrip().endswith("TEST06 verification complete")
    logged = json.loads((folder / "TEST06" / "accuracy" / "mlperf_log_accuracy.json").read_text())
    assert len(logged) == 4 and all(e["token_count"] > 0 and e["token_data"] for e in logged)
