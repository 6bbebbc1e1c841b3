"""retinanet and 3d-unet-99 in containers, from `mlperf-docker build` and `run`: every scenario each
supports, accuracy and performance, on onnxruntime (and pytorch on one scenario each); each
accuracy.txt holds the stand-in's known score. A user's folder in the reference layout is taken
with --dataset_path (mounted read-only) and scored as its own known value.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from integration_support import mlperf_docker

pytestmark = pytest.mark.docker

RETINANET_SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream")
UNET_SCENARIOS = ("Offline", "SingleStream")


def standin_dir(cache_dir: Path, name: str) -> Path:
    [path] = cache_dir.glob(f"standins/{name}-*/expected.json")
    return path.parent


def build_and_run(cli_env, out_dir: Path, variation: str, scenarios, *extra: str) -> Path:
    proc = mlperf_docker(cli_env, "build", "--variation", variation)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = mlperf_docker(cli_env, "run", "--variation", variation, "--scenario", ",".join(scenarios),
                         "--output_dir", str(out_dir), *extra)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [run_dir] = out_dir.iterdir()
    return run_dir


def accuracy_lines(run_dir: Path, model: str, scenarios, performance: bool) -> dict[str, str]:
    lines = {}
    for scenario in scenarios:
        [scenario_dir] = run_dir.glob(f"*/{model}/{scenario}")
        if performance:
            summary = (scenario_dir / "performance" / "run_1" / "mlperf_log_summary.txt").read_text()
            assert f"Scenario : {scenario}" in summary
        acc = scenario_dir / "accuracy"
        assert (acc / "mlperf_log_accuracy.json").stat().st_size > 0
        lines[scenario] = (acc / "accuracy.txt").read_text().splitlines()[-1]
    return lines


def test_retinanet_onnxruntime_every_scenario(cli_env, cache_dir, tmp_path):
    run_dir = build_and_run(cli_env, tmp_path / "r", "_onnxruntime,_cpu,_retinanet", RETINANET_SCENARIOS,
                            "--mode", "both", "--test_query_count", "32")
    known = json.loads((standin_dir(cache_dir, "retinanet") / "expected.json").read_text())
    assert known["mAP"] == 75.0
    for scenario, line in accuracy_lines(run_dir, "retinanet", RETINANET_SCENARIOS, True).items():
        assert line == "mAP=75.000%", (scenario, line)


def test_retinanet_user_dataset_folder(cli_env, cache_dir, tmp_path):
    """The first 5 stand-in images, in the reference layout: 4 are detected correctly -> 80%."""
    assert mlperf_docker(cli_env, "build", "--variation", "_onnxruntime,_cpu,_retinanet").returncode == 0
    source = standin_dir(cache_dir, "retinanet") / "dataset"
    folder = tmp_path / "openimages"
    (folder / "validation" / "data").mkdir(parents=True)
    (folder / "annotations").mkdir()
    coco = json.loads((source / "annotations" / "openimages-mlperf.json").read_text())
    coco["images"] = coco["images"][:5]
    ids = {image["id"] for image in coco["images"]}
    coco["annotations"] = [a for a in coco["annotations"] if a["image_id"] in ids]
    (folder / "annotations" / "openimages-mlperf.json").write_text(json.dumps(coco))
    for image in coco["images"]:
        shutil.copy(source / "validation" / "data" / image["file_name"], folder / "validation" / "data")
    run_dir = build_and_run(cli_env, tmp_path / "r", "_onnxruntime,_cpu,_retinanet", ["SingleStream"],
                            "--mode", "accuracy", "--dataset_path", str(folder))
    assert accuracy_lines(run_dir, "retinanet", ["SingleStream"], False) == {"SingleStream": "mAP=80.000%"}
    bad = mlperf_docker(cli_env, "run", "--variation", "_onnxruntime,_cpu,_retinanet", "--dataset_path",
                        str(tmp_path), "--output_dir", str(tmp_path / "x"))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"error: --dataset_path {tmp_path}: expected a openimages folder holding annotations/openimages-mlperf.json"]


def test_retinanet_pytorch(cli_env, tmp_path):
    run_dir = build_and_run(cli_env, tmp_path / "r", "_pytorch,_cpu,_retinanet", ["Offline"],
                            "--mode", "both", "--test_query_count", "16")
    assert accuracy_lines(run_dir, "retinanet", ["Offline"], True) == {"Offline": "mAP=75.000%"}


def test_3d_unet_onnxruntime_both_scenarios(cli_env, cache_dir, tmp_path):
    run_dir = build_and_run(cli_env, tmp_path / "r", "_onnxruntime,_cpu,_3d-unet-99", UNET_SCENARIOS,
                            "--mode", "both", "--test_query_count", "4")
    known = json.loads((standin_dir(cache_dir, "unet3d") / "expected.json").read_text())
    assert known["line"] == "Accuracy: mean = 1.00000, kidney = 1.0000, tumor = 1.0000"
    for scenario, line in accuracy_lines(run_dir, "3d-unet-99", UNET_SCENARIOS, True).items():
        assert line == known["line"], (scenario, line)
    refused = mlperf_docker(cli_env, "run", "--variation", "_onnxruntime,_cpu,_3d-unet-99", "--scenario",
                            "Server", "--output_dir", str(tmp_path / "x"))
    assert refused.returncode == 2 and "runs SingleStream and Offline only" in refused.stderr


def test_3d_unet_pytorch_on_a_user_folder(cli_env, tmp_path):
    """A preprocessed-KiTS19 folder made by the generator with 25% of the tumor labelled kidney:
    the stand-in's convolution scores it at the generator's independently counted DICE."""
    from mlperf_harness.models.unet3d import standin

    info = standin.generate(tmp_path / "kits", n_cases=2, mislabel_fraction=0.25)
    run_dir = build_and_run(cli_env, tmp_path / "r", "_pytorch,_cpu,_3d-unet-99.9", ["SingleStream"],
                            "--mode", "both", "--test_query_count", "4", "--dataset_path", info["dataset_path"])
    lines = accuracy_lines(run_dir, "3d-unet-99.9", ["SingleStream"], True)
    assert lines == {"SingleStream": info["line"]} and info["line"].startswith("Accuracy: mean = 0.9")
