"""sdxl in a container, from `mlperf-docker build` and `run` on its stand-in (a tiny SDXL pipeline
through diffusers' StableDiffusionXLPipeline, loaded with from_pretrained from the reference's
checkpoint layout): Offline, Server and SingleStream (one sample per query; MultiStream, which the
reference also runs, is left out for time), accuracy and performance, in one container run with no
network. Each accuracy line is the checker's `'FID_SCORE': ..., 'CLIP_SCORE': ...`, computed in the
image from the images in mlperf_log_accuracy.json by the baked tiny encoders: FID 0 (the stand-in's
statistics are those of the images its pipeline makes) and the CLIP score the generator computed on
the host through CLIPModel's own forward."""

from __future__ import annotations

import ast
import json
import re

import pytest
from integration_support import mlperf_docker
from test_models_llm import build_and_run, scenario_dir, standin_expected, summary

pytestmark = pytest.mark.docker

VARIATION = "_pytorch,_cpu,_sdxl"


def scores(folder) -> dict:
    text = (folder / "accuracy" / "accuracy.txt").read_text()
    match = re.search(r"Accuracy Results: (\{.*\})", text)
    assert match and "'FID_SCORE': " in text and "'CLIP_SCORE': " in text, text
    return ast.literal_eval(match.group(1))


def test_sdxl_every_scenario_known_scores(cli_env, cache_dir, tmp_path):
    refused = mlperf_docker(cli_env, "run", "--variation", VARIATION + ",_float16", "--dry-run")
    assert refused.returncode == 2 and "float16 is for GPUs" in refused.stderr, refused.stderr
    scenarios = ("Offline", "Server", "SingleStream")
    run_dir, proc = build_and_run(cli_env, tmp_path / "r", VARIATION, scenarios,
                                  "--test_query_count", "2", "--max_batchsize", "2")
    known = standin_expected(cache_dir, "sdxl")
    side = known["image_shape"]
    for scenario in scenarios:
        folder = scenario_dir(run_dir, "sdxl", scenario)
        values = scores(folder)
        assert abs(values["FID_SCORE"]) < 1e-6, (scenario, values)
        assert values["CLIP_SCORE"] == pytest.approx(known["CLIP_SCORE"], abs=1e-3), (scenario, values)
        assert f"Scenario : {scenario}" in summary(folder)
        log = json.loads((folder / "accuracy" / "mlperf_log_accuracy.json").read_text())
        # uint8 HWC images, one per caption, as the reference's accuracy_coco.py reads them
        assert sorted(e["qsl_idx"] for e in log) == list(range(known["samples"]))
        assert {len(e["data"]) // 2 for e in log} == {side[0] * side[1] * side[2]}
    out = proc.stdout + proc.stderr
    assert "StableDiffusionXLPipeline, EulerDiscreteScheduler, float32" in out
    assert f"steps: {known['steps']}, guidance: 8.0" in out
    assert "largest batch 2" in out  # Offline batches of --max_batchsize
