"""The pytorch image runs the reference architectures from state_dicts, in containers: a full-architecture
ResNet-50 state_dict (torchvision's layout, random weights, generated here) passed with --model, and the
tiny-BERT state_dict stand-in with its known exact match and F1 (in fp32 and bfloat16), in accuracy and
performance mode."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from integration_support import mlperf_docker

pytestmark = pytest.mark.docker

SCENARIOS = ("Offline", "SingleStream")


def _run(cli_env, out_dir: Path, variation: str, *extra: str) -> Path:
    proc = mlperf_docker(cli_env, "build", "--variation", variation)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = mlperf_docker(cli_env, "run", "--variation", variation, "--scenario", ",".join(SCENARIOS),
                         "--mode", "both", "--output_dir", str(out_dir), "--test_query_count", "32", *extra)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [run_dir] = out_dir.iterdir()
    return run_dir, proc.stdout


def _check_both_modes(run_dir: Path, model: str) -> dict[str, str]:
    accuracy = {}
    for scenario in SCENARIOS:
        [scenario_dir] = run_dir.glob(f"*/{model}/{scenario}")
        summary = (scenario_dir / "performance" / "run_1" / "mlperf_log_summary.txt").read_text()
        assert re.search(rf"^Scenario : {scenario}$", summary, re.M)
        accuracy[scenario] = (scenario_dir / "accuracy" / "accuracy.txt").read_text().strip()
    return accuracy


@pytest.fixture(scope="module")
def full_resnet50(tmp_path_factory) -> Path:
    """torchvision's resnet50() state_dict with random weights (about 100 MB), as resnet50-19c8e357.pth."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "harness"))
    from mlperf_harness.models.resnet50.weights_pytorch import resnet50

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "resnet50-19c8e357.pth"
    torch.save(resnet50().state_dict(), path)
    return path


def test_full_resnet50_state_dict_with_model_flag(built_image, cli_env, tmp_path, full_resnet50):
    run_dir, stdout = _run(cli_env, tmp_path / "results", "_pytorch,_cpu,_resnet50", "--model", str(full_resnet50),
                           "--count", "16")
    for scenario, text in _check_both_modes(run_dir, "resnet50").items():
        assert re.search(r"accuracy=\d+\.\d{3}%, good=\d+, total=16", text), (scenario, text)
    assert "ResNet(Bottleneck, [3, 4, 6, 3], resnet50, 1000 classes)" in stdout


@pytest.mark.parametrize("precision", ["fp32", "bfloat16"])
def test_tiny_bert_state_dict_standin_gives_the_known_scores(built_image, cli_env, cache_dir, tmp_path, precision):
    run_dir, stdout = _run(cli_env, tmp_path / "results", f"_pytorch,_cpu,_bert-99,_{precision}")
    [expected] = cache_dir.glob("standins/bert_pytorch-*/expected.json")
    known = json.loads(expected.read_text())
    for scenario, text in _check_both_modes(run_dir, "bert-99").items():
        scores = json.loads(text)
        assert scores["exact_match"] == pytest.approx(known["exact_match"], abs=1e-6), scenario
        assert scores["f1"] == pytest.approx(known["f1"], abs=1e-6), scenario
    assert "BertForQuestionAnswering" in stdout
    assert ("precision: bfloat16" in stdout) == (precision == "bfloat16")
