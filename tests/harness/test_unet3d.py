"""3d-unet: preprocessed KiTS19 layout, the sliding window with Gaussian blending, the
DICE score, the scenario rule, and the stand-in's exact score through the harness."""

import json
import pickle

import numpy as np
import pytest

from harness_test_support import run_harness, run_python, standin_args
from mlperf_harness.errors import HarnessError
from mlperf_harness.models import unet3d
from mlperf_harness.models.unet3d import accuracy, dataset

pytest.importorskip("scipy")


def _reference_dice(prediction, target):
    """accuracy_kits.get_dice_score's one-hot arithmetic, for (1, D, H, W) uint8 arrays."""
    def one_hot(a):
        return np.transpose(np.eye(3)[a.reshape(-1)].reshape(list(a.shape) + [3]),
                            (0, 4, 1, 2, 3)).astype(np.float64)[:, 1:]
    p, t = one_hot(prediction), one_hot(target)
    axes = (2, 3, 4)
    return ((2.0 * np.sum(t * p, axis=axes) + 1e-6)
            / (np.sum(t, axis=axes) + np.sum(p, axis=axes) + 1e-6))[0]


def test_dice_equals_the_reference_arithmetic():
    rng = np.random.default_rng(0)
    for _ in range(5):
        truth = rng.integers(0, 3, size=(1, 6, 7, 8), dtype=np.uint8)
        prediction = np.where(rng.random(truth.shape) < 0.3, rng.integers(0, 3, truth.shape),
                              truth).astype(np.uint8)
        assert accuracy.dice_scores(prediction, truth) == tuple(_reference_dice(prediction, truth))
    empty = np.zeros((1, 2, 2, 2), dtype=np.uint8)  # no kidney, no tumor anywhere: 1.0 each
    assert accuracy.dice_scores(empty, empty) == (1.0, 1.0)


def test_gaussian_patch_as_the_reference():
    from scipy.signal.windows import gaussian

    patch = unet3d.gaussian_patch()
    line = gaussian(128, 16.0)
    cube = np.cbrt(np.outer(np.outer(line, line), line).reshape(128, 128, 128))
    assert patch.dtype == np.float32 and patch.max() == 1.0
    assert np.array_equal(patch, (cube / cube.max()).astype(np.float32))


def test_window_origins():
    assert list(unet3d.window_origins((128, 128, 128))) == [(0, 0, 0)]
    assert list(unet3d.window_origins((192, 128, 256))) == [
        (0, 0, 0), (0, 0, 64), (0, 0, 128), (64, 0, 0), (64, 0, 64), (64, 0, 128)]


def test_blending_weighs_each_window_by_its_gaussian():
    calls = []

    def run(window):  # window 1 votes class 1 everywhere, window 2 class 2
        calls.append(window.shape)
        logits = np.zeros((1, 3, 128, 128, 128), dtype=np.float32)
        logits[:, len(calls)] = 1.0
        return [logits]

    segmentation = unet3d.sliding_window(run, np.zeros((1, 1, 192, 128, 128), dtype=np.float32))
    assert calls == [(1, 1, 128, 128, 128)] * 2
    assert segmentation.shape == (1, 1, 192, 128, 128) and segmentation.dtype == np.uint8
    depth = segmentation[0, 0, :, 64, 64]
    # Each voxel goes to the window whose centre (63.5 and 127.5) is nearer.
    assert (depth[:96] == 1).all() and (depth[96:] == 2).all()


def test_dataset_layout_and_pickles(tmp_path, unet3d_standin):
    root = unet3d_standin["dataset_path"]
    data = dataset.Kits19Dataset.open(root)
    assert data.cases == ["case_00000", "case_00003"]
    assert data.load(1).shape == (1, 192, 128, 128) and data.load(1).dtype == np.float32
    assert data.label(0).dtype == np.uint8 and set(np.unique(data.label(0))) == {0, 1, 2}
    with pytest.raises(dataset.DatasetCountError):
        dataset.Kits19Dataset.open(root, count=3)
    with pytest.raises(HarnessError, match="preprocessed_files.pkl: not found"):
        dataset.Kits19Dataset.open(tmp_path)
    (tmp_path / "preprocessed_files.pkl").write_bytes(pickle.dumps(
        {"file_list": ["case_1"], "cases": {"case_1": {"image_shape": (1, 128, 128, 128)}}}))
    with pytest.raises(HarnessError, match=r"1 case\(s\) listed .* missing, first: .*case_1\.pkl"):
        dataset.Kits19Dataset.open(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "preprocessed_files.pkl").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(HarnessError, match="builtins.print is not allowed"):
        dataset.Kits19Dataset.open(tmp_path)
    (tmp_path / "preprocessed_files.pkl").write_bytes(pickle.dumps(
        {"file_list": ["case_1"], "cases": {"case_1": {"image_shape": (1, 100, 128, 128)}}}))
    with pytest.raises(HarnessError, match="not 128 \\+ a multiple of 64"):
        dataset.Kits19Dataset.open(tmp_path)


def _args(info, backend, out, *extra):
    return standin_args("3d-unet-99", info, backend, out, *extra)


def test_standin_scores_exactly(unet3d_standin, model_spec_env, tmp_path):
    assert unet3d_standin["line"] == "Accuracy: mean = 1.00000, kidney = 1.0000, tumor = 1.0000"
    proc = run_harness(_args(unet3d_standin, "onnxruntime", tmp_path / "o", "--scenario",
                             "Offline,SingleStream", "--mode", "both", "--test_query_count", "4"),
                       cwd=tmp_path, env=model_spec_env)
    assert proc.returncode == 0, proc.stderr
    for scenario in ("Offline", "SingleStream"):
        assert f"{scenario} accuracy: {unet3d_standin['line']}" in proc.stdout.splitlines()
        base = tmp_path / "o" / "box" / "3d-unet-99" / scenario
        assert (base / "accuracy" / "accuracy.txt").read_text().splitlines()[-1] == unet3d_standin["line"]
        assert "3d-unet.%s.min_query_count = 4" % scenario in (base / "user.conf").read_text()
    assert "largest batch 1 (max-batchsize 1)" in proc.stdout


def test_mislabelled_standin_on_pytorch(model_spec_env, tmp_path):
    pytest.importorskip("torch")
    from mlperf_harness.models.unet3d import standin

    info = standin.generate(tmp_path / "s", n_cases=2, mislabel_fraction=0.25, backend="pytorch")
    info["models"] = {"pytorch": info["model_path"]}
    assert info["line"] != "Accuracy: mean = 1.00000, kidney = 1.0000, tumor = 1.0000"
    proc = run_harness(_args(info, "pytorch", tmp_path / "o", "--scenario", "SingleStream",
                             "--mode", "accuracy"), cwd=tmp_path, env=model_spec_env)
    assert proc.returncode == 0, proc.stderr
    assert f"SingleStream accuracy: {info['line']}" in proc.stdout.splitlines()
    log = tmp_path / "o/box/3d-unet-99/SingleStream/accuracy/mlperf_log_accuracy.json"
    result = accuracy.evaluate(log, dataset.Kits19Dataset.open(info["dataset_path"]))
    for case, scores in info["cases"].items():
        assert result.cases[case] == pytest.approx(tuple(scores), abs=0, rel=1e-15)
    script = run_python(["-m", "mlperf_harness.models.unet3d.accuracy", "--log", log,
                         "--dataset-path", info["dataset_path"], "--output", tmp_path / "a.txt"])
    assert script.returncode == 0, script.stderr
    assert (tmp_path / "a.txt").read_text() == log.with_name("accuracy.txt").read_text()
    assert json.loads((tmp_path / "s" / "expected.json").read_text())["line"] == info["line"]


@pytest.mark.parametrize("scenario", ["Server", "MultiStream"])
def test_server_and_multistream_refused(unet3d_standin, model_spec_env, tmp_path, scenario):
    proc = run_harness(_args(unet3d_standin, "onnxruntime", tmp_path / "o", "--scenario",
                             f"Offline,{scenario}"), cwd=tmp_path, env=model_spec_env)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "python -m mlperf_harness: error: 3d-unet-99 runs SingleStream and Offline only (as the "
        f"reference); not {scenario}"]
    assert not (tmp_path / "o").exists()


def test_wrong_layout_is_one_line(unet3d_standin, model_spec_env, tmp_path):
    proc = run_harness(["--model", "3d-unet-99.9", "--model_path", unet3d_standin["model_path"],
                        "--dataset_path", tmp_path, "--output_dir", tmp_path / "o"],
                       cwd=tmp_path, env=model_spec_env)
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1
    assert "preprocessed_files.pkl: not found" in proc.stderr
