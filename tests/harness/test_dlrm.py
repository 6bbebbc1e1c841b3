"""dlrm-v2: the multi-hot Criteo layout and its aggregation, the AUC script, the scenario rule, and
the stand-in's exact AUC through the harness."""

import json

import numpy as np
import pytest

from harness_test_support import run_harness, run_python, standin_args
from mlperf_harness.errors import HarnessError
from mlperf_harness.models.dlrm_v2 import MULTI_HOT_SIZES, accuracy, dataset

pytest.importorskip("sklearn")

AUC_100 = "AUC=100.000%, accuracy=100.000%, good=1024, total=1024, queries=16"


def test_aggregation_offsets():
    assert list(dataset.sample_offsets(10, 4, None)) == [0, 4, 8, 10]
    offsets = dataset.sample_offsets(1000, None, np.array([100, 200, 700]))
    assert offsets[0] == 0 and offsets[-1] == 1000
    assert set(np.diff(offsets)[:-1]) <= {100, 200, 700}
    assert list(offsets) == list(dataset.sample_offsets(1000, None, np.array([100, 200, 700])))


def test_layout_samples_and_errors(dlrm_standin, tmp_path):
    data = dataset.CriteoDataset.open(dlrm_standin["dataset_path"])
    assert len(data) == 16  # 2048 rows, the first half evaluated, 64 per sample
    dense, sparse, labels = data.load(15)
    assert dense.shape == (64, 13) and dense.dtype == np.float32 and dense.flags.writeable
    assert sparse.shape == (64, sum(MULTI_HOT_SIZES)) and sparse.dtype == np.int32
    assert labels.shape == (64,) and set(np.unique(labels)) == {0.0, 1.0}
    assert len(dataset.CriteoDataset.open(dlrm_standin["dataset_path"], samples_to_aggregate=100)) == 11
    with pytest.raises(dataset.DatasetCountError):
        dataset.CriteoDataset.open(dlrm_standin["dataset_path"], count=17)
    with pytest.raises(HarnessError, match="day_23_dense.npy: not found"):
        dataset.CriteoDataset.open(tmp_path)
    np.save(tmp_path / dataset.DENSE, np.zeros((4, 13), np.float32))
    np.save(tmp_path / dataset.LABELS, np.zeros((4, 1), np.int32))
    with pytest.raises(HarnessError, match="day_23_sparse_multi_hot.npz: not found"):
        dataset.CriteoDataset.open(tmp_path)
    np.savez_compressed(tmp_path / dataset.SPARSE, **{str(k): np.zeros((4, s), np.int32)
                                                      for k, s in enumerate(MULTI_HOT_SIZES)})
    with pytest.raises(HarnessError, match="dist_quantile.txt: not found"):
        dataset.CriteoDataset.open(tmp_path)
    with pytest.raises(HarnessError, match="is compressed"):
        dataset.CriteoDataset.open(tmp_path, samples_to_aggregate=2)


def _log(path, samples):
    path.write_text(json.dumps([{"seq_id": i, "qsl_idx": q, "data": np.asarray(rows, "<f4").tobytes().hex()}
                                for i, (q, rows) in enumerate(samples)]))
    return path


def test_auc_as_sklearn(tmp_path):
    from sklearn.metrics import roc_auc_score

    rows = [[0.9, 1], [0.2, 0], [0.6, 0], [0.4, 1]]
    result = accuracy.evaluate(_log(tmp_path / "a.json", [(0, rows[:2]), (1, rows[2:]), (0, rows[:2])]))
    assert result.auc == roc_auc_score([1, 0, 0, 1], [0.9, 0.2, 0.6, 0.4]) == 0.75
    assert result.line() == "AUC=75.000%, accuracy=50.000%, good=2, total=4, queries=2"
    assert result.duplicates == 1
    with pytest.raises(HarnessError, match="one class only"):
        accuracy.evaluate(_log(tmp_path / "b.json", [(0, [[0.9, 1]])]))


def test_standin_auc_through_the_harness(dlrm_standin, model_spec_env, tmp_path):
    assert dlrm_standin["line"] == AUC_100
    proc = run_harness(standin_args("dlrm-99", dlrm_standin, "pytorch", tmp_path / "o", "--scenario",
                                    "Offline,Server", "--mode", "accuracy"), cwd=tmp_path, env=model_spec_env)
    assert proc.returncode == 0, proc.stderr
    for scenario in ("Offline", "Server"):
        assert f"{scenario} accuracy: {AUC_100}" in proc.stdout.splitlines()
        acc = tmp_path / "o" / "box" / "dlrm-99" / scenario / "accuracy"
        assert (acc / "accuracy.txt").read_text() == AUC_100 + "\n"
    script = run_python(["-m", "mlperf_harness.models.dlrm_v2.accuracy", "--log", acc / "mlperf_log_accuracy.json",
                         "--dataset-path", dlrm_standin["dataset_path"], "--output", tmp_path / "a.txt"])
    assert script.returncode == 0, script.stderr
    assert (tmp_path / "a.txt").read_text() == AUC_100 + "\n"


def test_flipped_labels_score_the_generators_auc(model_spec_env, tmp_path):
    pytest.importorskip("torch")
    from mlperf_harness.models.dlrm_v2 import standin

    info = standin.generate(tmp_path / "s", n_samples=4, flip=0.25)
    info["models"] = {"pytorch": info["model_path"]}
    assert not info["line"].startswith("AUC=100.000%")
    proc = run_harness(standin_args("dlrm-99.9", info, "pytorch", tmp_path / "o", "--scenario", "Offline",
                                    "--mode", "accuracy"), cwd=tmp_path, env=model_spec_env)
    assert proc.returncode == 0, proc.stderr
    assert f"Offline accuracy: {info['line']}" in proc.stdout.splitlines()


@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream"])
def test_single_and_multistream_refused(dlrm_standin, model_spec_env, tmp_path, scenario):
    proc = run_harness(standin_args("dlrm-99", dlrm_standin, "pytorch", tmp_path / "o", "--scenario",
                                    f"Offline,{scenario}"), cwd=tmp_path, env=model_spec_env)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "python -m mlperf_harness: error: dlrm-99 runs Server and Offline only (as the reference); "
        f"not {scenario}"]
    assert not (tmp_path / "o").exists()


def test_real_checkpoint_folder_refused(dlrm_standin, model_spec_env, tmp_path):
    from mlperf_harness.models.dlrm_v2 import weights_pytorch

    snapshot = tmp_path / "model_weights"
    snapshot.mkdir()
    (snapshot / weights_pytorch.SNAPSHOT_MARKER).write_text("{}")
    weights_pytorch.check_model(str(dlrm_standin["model_path"]))  # a file passes
    info = dict(dlrm_standin, models={"pytorch": snapshot})
    proc = run_harness(standin_args("dlrm-99", info, "pytorch", tmp_path / "o", "--scenario", "Offline"),
                       cwd=tmp_path, env=model_spec_env)
    assert proc.returncode != 0 and not (tmp_path / "o").exists()
    reason = "needs torchrec" if not weights_pytorch.torchrec_available() else "TorchScript export only"
    assert "DLRM_DCN torchsnapshot checkpoint" in proc.stderr and reason in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
