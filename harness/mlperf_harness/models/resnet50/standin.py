"""A resnet50 stand-in: a tiny model with the reference resnet50's signature,
in each backend's format, and a synthetic ImageNet-layout dataset whose top-1
accuracy is known exactly.

No download, no GPU, no onnxruntime: numpy, pillow and onnx, plus the
harness's own ``preprocess`` so labels are computed on exactly what the
harness will feed the model. The other formats need their framework on the
host, imported only when that format is asked for (torch for pytorch,
tensorflow for tf and tflite).

Model: input float32 images -> 28x28/28 average pool -> [N,3,8,8] ->
flatten [N,192] -> dense (seeded weights [192,1001] + bias) = logits ->
softmax ``softmax_tensor`` [N,1001] and ``ArgMax`` int64 [N]. One set of
seeded weights, exported per backend (``generate(out, backend=...)``):

- onnxruntime: ``resnet50_v1.onnx`` (opset 11), input ``input_tensor:0``
  NCHW [N,3,224,224], outputs ``ArgMax:0``, ``softmax_tensor:0``.
- pytorch: ``resnet50-19c8e357.pth`` (the reference artifact's name), a
  TorchScript archive taking NCHW and returning a dict keyed by the ONNX
  output names.
- tf: ``resnet50_v1.pb``, a frozen GraphDef as the reference's: placeholder
  ``input_tensor`` NHWC [N,224,224,3], ``ArgMax``, ``softmax_tensor``.
- tflite: ``resnet50_v1.tflite``, that graph converted (dynamic batch).

NHWC flattens the pooled grid in (h, w, c) order rather than (c, h, w): the
tf/tflite weight rows are the same numbers, permuted to match, so every
format computes the same logits.

Dataset: ``val_map.txt`` + ``ILSVRC2012_val_%08d.JPEG`` (1-based), smooth
seeded patterns plus noise at varied non-square sizes (300..500 px a side).
Each image's prediction is computed with numpy on ``preprocess()`` of the
saved JPEG file. Images predicted as background (class 0) or whose top-1
lead over the runner-up could be erased by shifting every pooled input by
``MARGIN_SHIFT`` are regenerated (next attempt seed), so a different JPEG
decoder or float rounding cannot flip a prediction.

Labels: sample i is correct (label = prediction - 1, the offset of the
1001-class model) iff round_half_up((i+1)*f) - round_half_up(i*f) == 1, so
the correct ones are spread evenly: the whole set has round_half_up(n*f)
correct and so does any prefix (--count c gives round_half_up(c*f) / c).
Other samples get a different label.

Same arguments + same library versions -> byte-identical files (the dataset
is the same for every backend).

    python -m mlperf_harness.models.resnet50.standin OUT_DIR [--backend NAME] [--samples N] [--top1 F] [--seed S]
"""

from __future__ import annotations

import io
import linecache
import math
import sys
import tempfile
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from PIL import Image

from mlperf_harness.models.resnet50.dataset import preprocess
from mlperf_harness.standin_cli import main as standin_main, onnx_model, prepare, write_expected

VERSION = 1
CLASSES = 1001  # 0 = background, 1..1000 = ImageNet labels 0..999
POOL = 28
GRID = 224 // POOL  # 8
FEATURES = 3 * GRID * GRID  # 192
WEIGHT_SCALE = 0.01
BIAS_SCALE = 0.1
MARGIN_SHIFT = 0.5  # pooled-input shift (in pixel units) a prediction must survive
MIN_SIDE, MAX_SIDE = 300, 500
JPEG_QUALITY = 90
MAX_ATTEMPTS = 200

MODEL_FILE = "resnet50_v1.onnx"
INPUT = "input_tensor:0"
OUT_ARGMAX = "ArgMax:0"
OUT_SOFTMAX = "softmax_tensor:0"
# backend -> model file (the reference artifact's name, which the launcher passes as --model-path)
MODEL_FILES = {
    "onnxruntime": MODEL_FILE,
    "pytorch": "resnet50-19c8e357.pth",
    "tf": "resnet50_v1.pb",
    "tflite": "resnet50_v1.tflite",
}


def weights(seed: int) -> Tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, 0x7E5])
    w = (rng.standard_normal((FEATURES, CLASSES)) * WEIGHT_SCALE).astype(np.float32)
    b = (rng.standard_normal(CLASSES) * BIAS_SCALE).astype(np.float32)
    return w, b


def build_model(w: np.ndarray, b: np.ndarray) -> onnx.ModelProto:
    batch = "batch_size"
    nodes = [
        helper.make_node("AveragePool", [INPUT], ["pooled"], name="pool",
                         kernel_shape=[POOL, POOL], strides=[POOL, POOL]),
        helper.make_node("Flatten", ["pooled"], ["features"], name="flatten", axis=1),
        helper.make_node("Gemm", ["features", "dense/kernel", "dense/bias"], ["logits"],
                         name="dense"),
        helper.make_node("Softmax", ["logits"], [OUT_SOFTMAX], name="softmax", axis=1),
        helper.make_node("ArgMax", ["logits"], [OUT_ARGMAX], name="argmax", axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes, "resnet50_standin",
        inputs=[helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [batch, 3, 224, 224])],
        outputs=[helper.make_tensor_value_info(OUT_ARGMAX, TensorProto.INT64, [batch]),
                 helper.make_tensor_value_info(OUT_SOFTMAX, TensorProto.FLOAT, [batch, CLASSES])],
        initializer=[numpy_helper.from_array(w, "dense/kernel"),
                     numpy_helper.from_array(b, "dense/bias")])
    return onnx_model(graph, 11, 6, "resnet50", VERSION,  # opset 11's IR version: loads in old and new runtimes alike
                      "Synthetic stand-in with resnet50_v1.onnx's inputs and outputs; not a real model.")


# TorchScript keeps the module's source and its file name in the archive; compiling it from this
# string under a fixed name keeps the archive independent of where the checkout lives.
_TORCH_SOURCE = """
from typing import Dict

import torch


class ResNet50Standin(torch.nn.Module):
    def __init__(self, weight, bias):
        super().__init__()
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        pooled = torch.nn.functional.avg_pool2d(images, 28, 28)
        logits = torch.flatten(pooled, 1) @ self.weight + self.bias
        return {"ArgMax:0": torch.argmax(logits, 1),
                "softmax_tensor:0": torch.softmax(logits, 1)}
"""


_COMPILED: Dict[str, dict] = {}


def compile_torch_source(source: str, filename: str) -> dict:
    """Exec ``source`` as a module whose file is ``filename`` (registered with linecache, so
    torch.jit.script can read the source back). Once per process: TorchScript renames a
    second class of the same name, which would change the archive."""
    if filename not in _COMPILED:
        lines = source.splitlines(keepends=True)
        linecache.cache[filename] = (len(source), None, lines, filename)
        namespace = {"__name__": filename.rsplit("/", 1)[-1].removesuffix(".py")}
        exec(compile(source, filename, "exec"), namespace)
        _COMPILED[filename] = namespace
    return _COMPILED[filename]


def torchscript_bytes(module) -> bytes:
    import warnings

    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.10 deprecates TorchScript
        torch.jit.save(torch.jit.script(module.eval()), buf)
    return buf.getvalue()


def build_torchscript(w: np.ndarray, b: np.ndarray) -> bytes:
    import torch

    namespace = compile_torch_source(_TORCH_SOURCE, "mlperf_docker_standins/resnet50_torch.py")
    module = namespace["ResNet50Standin"](torch.from_numpy(w.copy()), torch.from_numpy(b.copy()))
    return torchscript_bytes(module)


def nhwc_weights(w: np.ndarray) -> np.ndarray:
    """Rows of ``w`` reordered from (c, h, w) to (h, w, c) flattening: the same weights for NHWC."""
    return np.ascontiguousarray(
        w.reshape(3, GRID, GRID, CLASSES).transpose(1, 2, 0, 3).reshape(FEATURES, CLASSES))


def build_frozen_graph(w: np.ndarray, b: np.ndarray) -> bytes:
    """The TF graph (NHWC), frozen: constants only, no variables, as resnet50_v1.pb."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, [None, 224, 224, 3], name=INPUT.split(":")[0])
        pooled = tf.nn.avg_pool2d(images, ksize=POOL, strides=POOL, padding="VALID", name="pool")
        features = tf.reshape(pooled, [-1, FEATURES], name="features")
        kernel = tf.constant(nhwc_weights(w), name="dense/kernel")
        logit = tf.nn.bias_add(tf.matmul(features, kernel), tf.constant(b, name="dense/bias"),
                               name="logits")
        tf.nn.softmax(logit, name=OUT_SOFTMAX.split(":")[0])
        tf.math.argmax(logit, axis=1, output_type=tf.int64, name=OUT_ARGMAX.split(":")[0])
    return graph.as_graph_def().SerializeToString(deterministic=True)


def build_tflite(w: np.ndarray, b: np.ndarray) -> bytes:
    """The frozen graph converted to TFLite, batch dimension left dynamic."""
    import tensorflow as tf

    graph = build_frozen_graph(w, b)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frozen.pb"
        path.write_bytes(graph)
        converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
            str(path), [INPUT.split(":")[0]],
            [OUT_ARGMAX.split(":")[0], OUT_SOFTMAX.split(":")[0]],
            input_shapes={INPUT.split(":")[0]: [None, 224, 224, 3]})
        return converter.convert()


def model_bytes(backend: str, w: np.ndarray, b: np.ndarray) -> bytes:
    if backend == "onnxruntime":
        return build_model(w, b).SerializeToString(deterministic=True)
    if backend == "pytorch":
        return build_torchscript(w, b)
    if backend == "tf":
        return build_frozen_graph(w, b)
    if backend == "tflite":
        return build_tflite(w, b)
    raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(MODEL_FILES)}")


def export_model(path, backend: str, seed: int = 0) -> Path:
    """Write just the model for ``backend`` (the weights ``generate`` uses for ``seed``) to ``path``."""
    w, b = weights(seed)
    path = Path(path)
    path.write_bytes(model_bytes(backend, w, b))
    return path


def logits(sample: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The graph's math in numpy (float64) for one preprocessed [3,224,224] sample."""
    pooled = sample.astype(np.float64).reshape(3, GRID, POOL, GRID, POOL).mean(axis=(2, 4))
    return pooled.reshape(-1) @ w.astype(np.float64) + b.astype(np.float64)


def robust_prediction(sample: np.ndarray, w: np.ndarray, b: np.ndarray):
    """The predicted class, or None when it is background or could flip."""
    z = logits(sample, w, b)
    top2 = np.argsort(z)[-2:]
    second, first = int(top2[0]), int(top2[1])
    if first == 0:
        return None
    worst_case = MARGIN_SHIFT * float(np.abs(w[:, first].astype(np.float64) - w[:, second]).sum())
    if z[first] - z[second] <= worst_case:
        return None
    return first


def synthetic_image(rng: np.random.Generator) -> Image.Image:
    width, height = (int(v) for v in rng.integers(MIN_SIDE, MAX_SIDE + 1, size=2))
    if width == height:
        height = height - 1 if height > MIN_SIDE else height + 1
    # Smooth colour field: a few random control points blown up bicubically.
    cells = int(rng.integers(2, 7))
    control = rng.uniform(0, 255, size=(cells, cells + 1, 3)).astype(np.uint8)
    field = np.asarray(Image.fromarray(control, "RGB").resize((width, height), Image.Resampling.BICUBIC),
                       dtype=np.float32).copy()
    # Stripes at a random angle and frequency, per-channel phase:
    # sin(y + x + s) = sin(y + s) cos(x) + cos(y + s) sin(x), as outer products.
    angle = rng.uniform(0, math.pi)
    omega = 2 * math.pi * rng.uniform(2, 12) / max(width, height)
    amplitude = rng.uniform(10, 40)
    shifts = rng.uniform(0, 2 * math.pi, size=3)
    x = np.arange(width) * (omega * math.cos(angle))
    y = np.arange(height)[:, None] * (omega * math.sin(angle)) + shifts[None, :]
    sin_y = (amplitude * np.sin(y)).astype(np.float32)[:, None, :]
    cos_y = (amplitude * np.cos(y)).astype(np.float32)[:, None, :]
    field += sin_y * np.cos(x).astype(np.float32)[None, :, None]
    field += cos_y * np.sin(x).astype(np.float32)[None, :, None]
    field += rng.integers(-10, 11, size=(height, width, 3), dtype=np.int8)  # noise
    pixels = np.clip(field, 0, 255, out=field).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def correct_count(i: int, fraction: float) -> int:
    """How many of samples 0..i-1 are correct: round-half-up(i * fraction)."""
    return int(math.floor(i * fraction + 0.5))


def generate(out_dir: Path, n_samples: int = 300, top1_fraction: float = 0.75, seed: int = 0,
             backend: str = "onnxruntime") -> Dict:
    """Write the stand-in model (in ``backend``'s format), dataset and expected.json under ``out_dir``."""
    out_dir = Path(out_dir)
    model_dir, data_dir = prepare(out_dir, backend, MODEL_FILES, ("n_samples", n_samples),
                                  ("top1_fraction", top1_fraction))

    w, b = weights(seed)
    model_path = model_dir / MODEL_FILES[backend]
    model_path.write_bytes(model_bytes(backend, w, b))

    lines = []
    good = 0
    for i in range(n_samples):
        name = f"ILSVRC2012_val_{i + 1:08d}.JPEG"
        path = data_dir / name
        for attempt in range(MAX_ATTEMPTS):
            rng = np.random.default_rng([seed, i, attempt])
            buf = io.BytesIO()
            synthetic_image(rng).save(buf, "JPEG", quality=JPEG_QUALITY)
            path.write_bytes(buf.getvalue())
            predicted = robust_prediction(preprocess(path), w, b)  # decode the saved file
            if predicted is not None:
                break
        else:
            raise RuntimeError(f"no robust image for sample {i} after {MAX_ATTEMPTS} attempts")
        label = predicted - 1
        if correct_count(i + 1, top1_fraction) - correct_count(i, top1_fraction) == 1:
            good += 1
        else:
            label = (label + int(rng.integers(1, 1000))) % 1000  # anything but the prediction
        lines.append(f"{name} {label}\n")
    (data_dir / "val_map.txt").write_text("".join(lines), encoding="utf-8")

    expected = {"top1": round(100.0 * good / n_samples, 3), "good": good, "total": n_samples,
                "generator": "resnet50", "version": VERSION, "backend": backend}
    return write_expected(out_dir, model_path, data_dir, expected)


def main(argv=None) -> int:
    return standin_main("python -m mlperf_harness.models.resnet50.standin", "Write the resnet50 stand-in model and dataset.", MODEL_FILES,
                        ("--samples", 300, "synthetic JPEGs"), ("--top1", 0.75, "fraction labelled correctly"), generate, argv)


if __name__ == "__main__":
    sys.exit(main())
