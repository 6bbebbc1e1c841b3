"""retinanet: OpenImages layout, the reference's preprocessing and post-processing, the
pycocotools mAP, and the stand-in's exact score through the harness."""

import json

import numpy as np
import pytest
from PIL import Image

from harness_test_support import run_harness, run_python, standin_args
from mlperf_harness.errors import HarnessError
from mlperf_harness.models import retinanet
from mlperf_harness.models.retinanet import accuracy, dataset

pytest.importorskip("pycocotools")


def test_resize_matches_opencv_rules():
    # Two pixels 0 and 10 doubled: half-pixel centres, edges clamped (cv2: 0, 2.5, 7.5, 10).
    row = np.array([[[0.0], [10.0]]], dtype=np.float32)
    assert dataset.resize_linear(row, 4, 1)[0, :, 0].tolist() == [0.0, 2.5, 7.5, 10.0]
    image = np.random.default_rng(0).uniform(0, 255, (37, 53, 3)).astype(np.float32)
    assert np.array_equal(dataset.resize_linear(image, 53, 37), image)
    flat = np.full((30, 70, 3), 77.0, dtype=np.float32)
    assert np.allclose(dataset.resize_linear(flat, 800, 800), 77.0)


def test_resize_equals_cv2():
    import cv2  # the reference's resize (a test dependency; the image carries no OpenCV)

    image = np.random.default_rng(1).uniform(0, 255, (533, 799, 3)).astype(np.float32)
    expected = cv2.resize(image, (800, 800), interpolation=cv2.INTER_LINEAR)
    assert np.abs(dataset.resize_linear(image, 800, 800) - expected).max() < 1e-3


def test_preprocess_shape_and_range(tmp_path):
    Image.new("RGB", (320, 200), (255, 0, 128)).save(tmp_path / "a.jpg", quality=95)
    sample = dataset.preprocess(tmp_path / "a.jpg")
    assert sample.shape == (3, 800, 800) and sample.dtype == np.float32
    assert np.allclose(sample.mean(axis=(1, 2)), [1.0, 0.0, 128 / 255], atol=0.02)


def test_detection_rows_as_the_reference():
    boxes = np.array([[80, 160, 400, 800], [0, 0, 8, 8], [1, 1, 2, 2]], dtype=np.float32)
    rows = retinanet.detection_rows(boxes, np.array([5, 6, 7]), np.array([0.9, 0.049, 0.8]), 3)
    # xmin, ymin, xmax, ymax in 800 px -> ymin, xmin, ymax, xmax in 0..1; stops at 0.049.
    assert rows.dtype == np.float32 and rows.shape == (1, 7)
    assert rows[0].tolist() == pytest.approx([3, 0.2, 0.1, 1.0, 0.5, 0.9, 5])
    assert retinanet.detection_rows(boxes[:0], [], [], 0).shape == (0, 7)
    with pytest.raises(ValueError):
        retinanet.detection_responses([boxes, [1, 2, 3], [1, 1, 1]], [0, 1])


def _coco(tmp_path, n=2):
    root = tmp_path / "openimages"
    (root / "validation" / "data").mkdir(parents=True)
    (root / "annotations").mkdir()
    images = [{"id": 10 + i, "file_name": f"{i}.jpg", "height": 100, "width": 200} for i in range(n)]
    annotations = [{"id": i + 1, "image_id": 10 + i, "category_id": i, "bbox": [20, 10, 100, 50],
                    "area": 5000.0, "iscrowd": 0} for i in range(n)]
    categories = [{"id": c, "name": str(c)} for c in range(5)]
    (root / dataset.ANNOTATIONS).write_text(json.dumps(
        {"images": images, "annotations": annotations, "categories": categories}))
    for i in range(n):
        Image.new("RGB", (200, 100)).save(root / "validation" / "data" / f"{i}.jpg")
    return root


def _log(path, entries):
    path.write_text(json.dumps([{"seq_id": n, "qsl_idx": i, "data": np.asarray(rows, "<f4").tobytes().hex()}
                                for n, (i, rows) in enumerate(entries)]))
    return path


def test_map_on_hand_made_logs(tmp_path):
    root = _coco(tmp_path)
    annotation = root / dataset.ANNOTATIONS
    hit = lambda i, label: [i, 0.1, 0.1, 0.6, 0.6, 0.9, label]  # the box [20,10,100,50] scaled
    perfect = accuracy.evaluate(_log(tmp_path / "a.json", [(0, hit(0, 0)), (1, hit(1, 1))]), annotation)
    assert perfect.mean_ap == pytest.approx(1.0) and perfect.line() == "mAP=100.000%"
    # Image 1 without results still counts (its category scores 0); duplicates are ignored.
    half = accuracy.evaluate(_log(tmp_path / "b.json", [(0, hit(0, 0)), (1, []), (1, hit(1, 1))]),
                             annotation, expect_total=2)
    assert (half.mean_ap, half.no_results, half.duplicates) == (pytest.approx(0.5), 1, 1)
    assert half.accuracy_txt().splitlines()[-1] == "mAP=50.000%"
    assert "Average Precision" in half.accuracy_txt()
    # A wrong category: the right one gets 0, the wrong one has no ground truth.
    wrong = accuracy.evaluate(_log(tmp_path / "c.json", [(0, hit(0, 3)), (1, hit(1, 1))]), annotation)
    assert wrong.mean_ap == pytest.approx(0.5)
    nothing = accuracy.evaluate(_log(tmp_path / "d.json", [(0, []), (1, [])]), annotation)
    assert nothing.line() == "mAP=0.000%"
    with pytest.raises(HarnessError, match="disagree"):
        accuracy.evaluate(_log(tmp_path / "e.json", [(0, hit(1, 0))]), annotation)
    with pytest.raises(HarnessError, match="covers 1 images, expected 2"):
        accuracy.evaluate(_log(tmp_path / "f.json", [(0, hit(0, 0))]), annotation, expect_total=2)


def test_dataset_layout_errors(tmp_path):
    root = _coco(tmp_path)
    assert len(dataset.OpenImagesDataset.open(root)) == 2
    with pytest.raises(dataset.DatasetCountError):
        dataset.OpenImagesDataset.open(root, count=3)
    (root / "validation" / "data" / "1.jpg").unlink()
    with pytest.raises(HarnessError, match=r"1 image\(s\) listed .* missing, first: .*1\.jpg"):
        dataset.OpenImagesDataset.open(root)
    with pytest.raises(HarnessError, match="openimages-mlperf.json: not found"):
        dataset.OpenImagesDataset.open(tmp_path)


def _args(info, backend, out, *extra):
    return standin_args("retinanet", info, backend, out, *extra)


@pytest.fixture(scope="module")
def all_scenarios(retinanet_standin, model_spec_env, tmp_path_factory):
    out = tmp_path_factory.mktemp("rn-results")
    proc = run_harness(_args(retinanet_standin, "onnxruntime", out, "--scenario",
                             "Offline,SingleStream,Server,MultiStream", "--mode", "accuracy"),
                       cwd=out, env=model_spec_env)
    return proc, out


@pytest.mark.parametrize("scenario", ["Offline", "SingleStream", "Server", "MultiStream"])
def test_standin_scores_exactly(all_scenarios, retinanet_standin, scenario):
    proc, out = all_scenarios
    assert proc.returncode == 0, proc.stderr
    assert retinanet_standin["mAP"] == 75.0
    assert f"{scenario} accuracy: mAP=75.000%" in proc.stdout.splitlines()
    text = (out / "box" / "retinanet" / scenario / "accuracy" / "accuracy.txt").read_text()
    assert text.splitlines()[-1] == "mAP=75.000%"
    assert "largest batch 1 (max-batchsize 1)" in proc.stdout


def test_performance_and_pytorch(retinanet_standin, model_spec_env, tmp_path):
    if "pytorch" not in retinanet_standin["models"]:
        pytest.skip("torch is not installed")
    proc = run_harness(_args(retinanet_standin, "pytorch", tmp_path / "o", "--scenario", "Offline",
                             "--mode", "both", "--test_query_count", "20", "--count", "5"),
                       cwd=tmp_path, env=model_spec_env)
    assert proc.returncode == 0, proc.stderr
    # 5 images: round-half-up(5 * 0.75) = 4 correct.
    assert "Offline accuracy: mAP=80.000%" in proc.stdout.splitlines()
    assert "Offline performance: " in proc.stdout and "TorchScript" in proc.stdout
    log = tmp_path / "o" / "box" / "retinanet" / "Offline" / "accuracy" / "mlperf_log_accuracy.json"
    script = run_python(["-m", "mlperf_harness.models.retinanet.accuracy", "--log", log,
                         "--dataset-path", retinanet_standin["dataset_path"], "--count", "5",
                         "--output", tmp_path / "acc.txt"], env=model_spec_env)
    assert script.returncode == 0, script.stderr
    assert script.stdout.strip() == "mAP=80.000%"
    assert (tmp_path / "acc.txt").read_text() == log.with_name("accuracy.txt").read_text()


def test_wrong_layout_is_one_line(tmp_path, retinanet_standin, model_spec_env):
    proc = run_harness(["--model", "retinanet", "--model_path", retinanet_standin["model_path"],
                        "--dataset_path", tmp_path, "--output_dir", tmp_path / "o"],
                       cwd=tmp_path, env=model_spec_env)
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1
    assert "annotations/openimages-mlperf.json: not found" in proc.stderr


def test_sut_sends_each_image_its_own_response_size():
    """Variable-size responses (retinanet's detections, possibly none) reach LoadGen intact."""
    import ctypes
    from collections import namedtuple

    from mlperf_harness.sut import SystemUnderTest

    Sample = namedtuple("Sample", "id index")
    got = {}

    def complete(responses):
        for r in responses:
            got[r.id] = ctypes.string_at(r.data, r.size) if r.size else b""

    class Qsl:
        def gather(self, indices):
            return np.full((len(indices), 1), indices[0], dtype=np.float32)

    class Backend:
        def run(self, batch):
            k = int(batch[0, 0])  # image k: k detections at score 0.9
            return [np.zeros((k, 4), np.float32), np.full(k, 7), np.full(k, 0.9, np.float32)]

    sut = SystemUnderTest("MultiStream", Backend(), Qsl(), None, max_batchsize=1, complete=complete,
                          responses=retinanet.detection_responses,
                          on_error=lambda message: pytest.fail(message))
    sut.issue_queries([Sample(10 + i, i) for i in range(3)])
    assert got[10] == b""
    for i in (1, 2):
        rows = np.frombuffer(got[10 + i], dtype="<f4").reshape(-1, 7)
        assert rows.shape == (i, 7) and (rows[:, 0] == i).all() and (rows[:, 6] == 7).all()
