"""dlrm-99 and rnnt in containers, from `mlperf-docker build` and `run` (pytorch, their only backend):
every scenario each supports, accuracy and performance; each accuracy.txt holds the stand-in's known
score in the checker's format. A user's folder in the reference layout is taken with --dataset_path
(mounted read-only) and scored as its own known value; a folder without the layout is one line.
"""

from __future__ import annotations

import json

import pytest
from integration_support import mlperf_docker
from test_models_retinanet_3dunet import accuracy_lines, build_and_run, standin_dir

pytestmark = pytest.mark.docker

DLRM = "_pytorch,_cpu,_dlrm-99"
DLRM_SCENARIOS = ("Offline", "Server")
AUC_100 = "AUC=100.000%, accuracy=100.000%, good=1024, total=1024, queries=16"


def test_dlrm_both_scenarios_and_a_user_folder(cli_env, cache_dir, tmp_path):
    run_dir = build_and_run(cli_env, tmp_path / "r", DLRM, DLRM_SCENARIOS, "--mode", "both",
                            "--test_query_count", "16")
    known = json.loads((standin_dir(cache_dir, "dlrm-v2_pytorch") / "expected.json").read_text())
    assert known["line"] == AUC_100
    assert accuracy_lines(run_dir, "dlrm-99", DLRM_SCENARIOS, True) == dict.fromkeys(DLRM_SCENARIOS, AUC_100)

    from mlperf_harness.models.dlrm_v2 import standin

    info = standin.generate(tmp_path / "criteo", n_samples=4, flip=0.25)  # a quarter of the labels inverted
    run_dir = build_and_run(cli_env, tmp_path / "u", DLRM, ["Offline"], "--mode", "accuracy",
                            "--dataset_path", info["dataset_path"])
    assert accuracy_lines(run_dir, "dlrm-99", ["Offline"], False) == {"Offline": info["line"]}
    assert info["line"].startswith("AUC=") and not info["line"].startswith("AUC=100.000%")

    bad = mlperf_docker(cli_env, "run", "--variation", DLRM, "--dataset_path", str(tmp_path / "r"),
                        "--output_dir", str(tmp_path / "x"))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"error: --dataset_path {tmp_path / 'r'}: expected a criteo-multihot folder holding day_23_dense.npy"]
    refused = mlperf_docker(cli_env, "run", "--variation", DLRM, "--scenario", "SingleStream",
                            "--output_dir", str(tmp_path / "y"))
    assert refused.returncode == 2 and "runs Server and Offline only" in refused.stderr


RNNT = "_pytorch,_cpu,_rnnt"
RNNT_SCENARIOS = ("SingleStream", "Offline", "Server")


def test_rnnt_every_scenario(cli_env, cache_dir, tmp_path):
    # one intra-op thread: the stand-in's tiny LSTMs gain nothing from more, and lose much on a busy machine
    run_dir = build_and_run(cli_env, tmp_path / "r", RNNT, RNNT_SCENARIOS, "--mode", "both",
                            "--test_query_count", "8", "--threads", "1")
    known = json.loads((standin_dir(cache_dir, "rnnt_pytorch") / "expected.json").read_text())
    assert known["line"] == "Word Error Rate: 0.0%, accuracy=100.0%"
    assert accuracy_lines(run_dir, "rnnt", RNNT_SCENARIOS, True) == dict.fromkeys(RNNT_SCENARIOS, known["line"])
    bad = mlperf_docker(cli_env, "run", "--variation", RNNT, "--dataset_path", str(tmp_path / "r"),
                        "--output_dir", str(tmp_path / "x"))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"error: --dataset_path {tmp_path / 'r'}: expected a librispeech folder holding dev-clean-wav.json"]
