import hashlib
import json

import numpy as np
import onnx
import pytest

from launcher.standins import resnet50 as generator
from mlperf_harness.datasets.imagenet import ImagenetDataset


def _digest(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic(tmp_path):
    a = generator.generate(tmp_path / "a", n_samples=6, seed=3)
    b = generator.generate(tmp_path / "b", n_samples=6, seed=3)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert a["good"] == b["good"] == 5  # round-half-up(6 * 0.75) = 4.5 -> 5
    c = generator.generate(tmp_path / "c", n_samples=6, seed=4)
    assert _digest(tmp_path / "c") != _digest(tmp_path / "a")


def test_model_signature(standin):
    model = onnx.load(standin["model_path"])
    onnx.checker.check_model(model)
    assert model.opset_import[0].version >= 11
    (inp,) = model.graph.input
    assert inp.name == "input_tensor:0"
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 224, 224]
    outs = {o.name: o.type.tensor_type for o in model.graph.output}
    assert outs["ArgMax:0"].elem_type == onnx.TensorProto.INT64
    assert outs["softmax_tensor:0"].elem_type == onnx.TensorProto.FLOAT
    assert outs["softmax_tensor:0"].shape.dim[1].dim_value == 1001


def test_layout_and_expected(standin):
    root = standin["root"]
    expected = json.loads((root / "expected.json").read_text())
    assert expected == {"top1": 75.0, "good": 45, "total": 60, "generator": "resnet50", "version": 1}
    lines = (root / "dataset" / "val_map.txt").read_text().splitlines()
    assert len(lines) == 60 and lines[0].startswith("ILSVRC2012_val_00000001.JPEG ")
    ds = ImagenetDataset.open(root / "dataset")
    sizes = set()
    from PIL import Image
    for f in ds.files[:10]:
        with Image.open(f) as img:
            assert img.format == "JPEG" and img.width != img.height
            assert 300 <= min(img.size) and max(img.size) <= 501
            sizes.add(img.size)
    assert len(sizes) > 5


def test_onnxruntime_agrees_with_labels(standin):
    ort = pytest.importorskip("onnxruntime")
    ds = ImagenetDataset.open(standin["root"] / "dataset")
    batch = np.stack([ds.load(i) for i in range(len(ds))])
    sess = ort.InferenceSession(standin["model_path"], providers=["CPUExecutionProvider"])
    argmax, softmax = sess.run(["ArgMax:0", "softmax_tensor:0"], {"input_tensor:0": batch})
    assert argmax.shape == (60,) and softmax.shape == (60, 1001)
    assert np.allclose(softmax.sum(axis=1), 1, atol=1e-4)
    good = int(((argmax - 1) == np.array(ds.labels)).sum())
    assert good == 45
    # Correct ones are spread evenly: any prefix holds round-half-up(c * 0.75).
    hits = ((argmax - 1) == np.array(ds.labels)).cumsum()
    assert all(hits[c - 1] == generator.correct_count(c, 0.75) for c in (1, 4, 10, 33, 60))

