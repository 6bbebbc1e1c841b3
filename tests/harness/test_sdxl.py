"""sdxl's harness pieces that need no pipeline: the captions.tsv reader, the accuracy log's images
(uint8 HWC, first response per qsl_idx), the reference's Fréchet distance, the checker's line, and
the model's declarations (a checkpoint folder run by its own runner)."""

import csv
import json

import numpy as np
import pytest

from mlperf_harness.errors import HarnessError
from mlperf_harness.models import get_model
from mlperf_harness.models.sdxl import accuracy, metrics
from mlperf_harness.models.sdxl.dataset import CocoCaptions, DatasetCountError


def write_captions(root, captions, latents=True):
    (root / "captions").mkdir(parents=True)
    with open(root / "captions" / "captions.tsv", "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(("id", "image_id", "caption", "height", "width", "file_name", "coco_url"))
        for n, caption in enumerate(captions):
            writer.writerow((n, n, caption, 1024, 1024, f"{n}.jpg", "u"))
    if latents:
        (root / "latents").mkdir()
        (root / "latents" / "latents.pt").write_bytes(b"x")


def test_captions_reader(tmp_path):
    write_captions(tmp_path, ["A cat, on a mat", "a bus"])
    data = CocoCaptions.open(tmp_path, count=2, model_path="/m")
    assert data.captions == ["A cat, on a mat", "a bus"] and len(data) == 2
    assert data.statistics == tmp_path / "val2014.npz"
    assert CocoCaptions.open(tmp_path, statistics="/s.npz").statistics.as_posix() == "/s.npz"
    with pytest.raises(DatasetCountError):
        CocoCaptions.open(tmp_path, count=3)


def test_captions_reader_refuses_missing_parts(tmp_path):
    with pytest.raises(HarnessError, match="captions.tsv: not found"):
        CocoCaptions.open(tmp_path)
    write_captions(tmp_path, ["a"], latents=False)
    with pytest.raises(HarnessError, match="latents.pt: not found"):
        CocoCaptions.open(tmp_path)


def test_accuracy_log_images(tmp_path):
    images = [np.full((4, 4, 3), n, np.uint8) for n in range(3)]
    entries = [{"qsl_idx": n % 3, "data": images[n % 3].tobytes().hex()} for n in range(5)]
    (tmp_path / "log.json").write_text(json.dumps(entries))
    read = accuracy.read_images(tmp_path / "log.json")
    assert [i for i, _ in read] == [0, 1, 2]
    assert all(a.shape == (4, 4, 3) and (a == n).all() for n, (_, a) in enumerate(read))
    (tmp_path / "bad.json").write_text(json.dumps([{"qsl_idx": 0, "data": "00" * 10}]))
    with pytest.raises(HarnessError, match="not a square RGB image"):
        accuracy.read_images(tmp_path / "bad.json")


def test_frechet_distance():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(32, 5))
    mu, sigma = features.mean(axis=0), np.cov(features, rowvar=False)
    assert abs(metrics.frechet_distance(mu, sigma, mu, sigma)) < 1e-9
    shift = np.arange(5.0)
    assert metrics.frechet_distance(mu + shift, sigma, mu, sigma) == pytest.approx(float(shift @ shift), abs=1e-8)
    # two isotropic Gaussians: d^2 = (s1 - s2)^2 x dims for standard deviations s1, s2
    assert metrics.frechet_distance(np.zeros(3), 4 * np.eye(3), np.zeros(3), np.eye(3)) == pytest.approx(3.0)
    with pytest.raises(HarnessError, match="features"):
        metrics.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_statistics_file(tmp_path):
    np.savez(tmp_path / "s.npz", mu=np.zeros(2), sigma=np.eye(2))
    mu, sigma = metrics.read_statistics(tmp_path / "s.npz")
    assert mu.shape == (2,) and sigma.shape == (2, 2)
    with pytest.raises(HarnessError, match="not found"):
        metrics.read_statistics(tmp_path / "none.npz")


def test_checker_line_and_declarations():
    line = accuracy.ImageScores({"FID_SCORE": 23.5, "CLIP_SCORE": 31.7}).line()
    assert line == "Accuracy Results: {'FID_SCORE': 23.5, 'CLIP_SCORE': 31.7}"
    model = get_model("sdxl")
    assert model.loadgen_key == "stable-diffusion-xl" and model.response_dtype == "uint8"
    assert model.code.folder_model and not model.code.llm and model.dataset == "coco-2014"
