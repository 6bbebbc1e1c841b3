import hashlib
import json

import numpy as np
import onnx
import pytest

from mlperf_harness.models import standin_module
from mlperf_harness.models.resnet50 import standin as generator
from mlperf_harness.models.resnet50.dataset import ImagenetDataset


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
    assert expected == {"top1": 75.0, "good": 45, "total": 60, "generator": "resnet50", "version": 1,
                        "backend": "onnxruntime"}
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



def test_every_format_has_the_reference_signature(backend_models):
    """pytorch: TorchScript NCHW -> dict; tf: frozen GraphDef NHWC; tflite: dynamic batch."""
    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("tensorflow")
    Interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter

    module = torch.jit.load(str(backend_models["pytorch"]))
    out = module(torch.zeros(2, 3, 224, 224))
    assert sorted(out) == ["ArgMax:0", "softmax_tensor:0"]
    assert out["ArgMax:0"].dtype == torch.int64 and tuple(out["softmax_tensor:0"].shape) == (2, 1001)

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(backend_models["tf"].read_bytes())
    nodes = {n.name: n for n in graph_def.node}
    assert nodes["input_tensor"].op == "Placeholder" and not any(n.op.startswith("Variable") for n in graph_def.node)
    assert [d.size for d in nodes["input_tensor"].attr["shape"].shape.dim] == [-1, 224, 224, 3]
    assert {"ArgMax", "softmax_tensor"} <= set(nodes)

    interpreter = Interpreter(model_path=str(backend_models["tflite"]))
    (inp,) = interpreter.get_input_details()
    assert inp["name"] == "input_tensor" and list(inp["shape_signature"]) == [-1, 224, 224, 3]
    assert {o["name"] for o in interpreter.get_output_details()} == {"ArgMax", "softmax_tensor"}


def test_nhwc_weights_are_a_permutation():
    w, _ = generator.weights(0)
    nhwc = generator.nhwc_weights(w)
    sample = np.random.default_rng(1).standard_normal((3, 8, 8)).astype(np.float32)
    assert np.allclose(sample.reshape(-1) @ w, sample.transpose(1, 2, 0).reshape(-1) @ nhwc, atol=1e-5)


@pytest.mark.parametrize("backend", ["pytorch", "tf", "tflite"])
def test_backend_models_are_deterministic(tmp_path, backend):
    """Byte-identical in one process (across processes too: the TorchScript source is
    compiled under a fixed file name, so the archive does not depend on the checkout's path)."""
    pytest.importorskip("torch" if backend == "pytorch" else "tensorflow")
    a = generator.export_model(tmp_path / "a", backend).read_bytes()
    b = generator.export_model(tmp_path / "b", backend).read_bytes()
    assert a == b


def test_unknown_backend(tmp_path):
    with pytest.raises(ValueError, match="unknown backend 'caffe'"):
        generator.generate(tmp_path, n_samples=1, backend="caffe")


def test_launcher_entries_share_the_generator_source():
    """launcher.artifacts caches a stand-in under a digest of ``module.__file__``: the
    per-backend entries point it at the generator, so editing it regenerates them."""
    import importlib

    for name in ("resnet50_tf", "resnet50_tflite"):
        module = importlib.import_module(standin_module(name))
        base = importlib.import_module(standin_module(name.split('_')[0]))
        assert module.__file__ == base.__file__ and callable(module.generate)
    # The pytorch stand-ins are state_dicts of the reference architectures: generators of their own.
    for name in ("resnet50_pytorch", "bert_pytorch"):
        module = importlib.import_module(standin_module(name))
        assert module.__file__.endswith("standin_pytorch.py") and callable(module.generate)


def test_bert_standin_is_deterministic(tmp_path):
    from mlperf_harness.models.bert import standin as bert

    a = bert.generate(tmp_path / "a", n_questions=12, seed=2)
    b = bert.generate(tmp_path / "b", n_questions=12, seed=2)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert a["exact_match"] == b["exact_match"] == 100.0 * 9 / 12
    data = json.loads((tmp_path / "a" / "dataset" / "dev-v1.1.json").read_text())
    assert data["version"] == "1.1"
    questions = [qa for article in data["data"] for p in article["paragraphs"] for qa in p["qas"]]
    assert len(questions) == 12 and len({q["id"] for q in questions}) == 12
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                for answer in qa["answers"]:
                    start = answer["answer_start"]
                    assert paragraph["context"][start:start + len(answer["text"])] == answer["text"]
    vocab = (tmp_path / "a" / "dataset" / "vocab.txt").read_text().splitlines()
    assert vocab[0] == "[PAD]" and {"[UNK]", "[CLS]", "[SEP]"} <= set(vocab)
