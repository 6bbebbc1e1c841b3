"""The resnet50 stand-in for the pytorch backend as a state_dict: torchvision's ResNet(Bottleneck, layers)
at a tiny size, loaded by the same code as the real resnet50-19c8e357.pth
(mlperf_harness.models.resnet50.weights_pytorch, through backends/state_dicts.py), and a synthetic ImageNet-layout dataset with a known top-1.

Model: ``ResNet(Bottleneck, [1, 1, 1, 1], width_per_group=8)`` (1000 classes; about 21 MB). Every
residual branch ends in a BatchNorm with weight and bias 0, so each block passes its shortcut on; the
stem convolution copies +x and -x of each input channel (centre tap) into channels 0..5, and the
shortcut convolutions carry those channels through. So the pooled features are relu(+x) and relu(-x)
per channel, whose difference lies within each channel's range of pixel values (in torchvision's
normalisation, which the harness's wrapper applies). ``fc`` scores class k = (r, g, b) cells of a
10 x 10 x 10 colour grid as -|x - centre_k|^2 + const: the predicted class is the colour cell the
image's pixels lie in.

Dataset: ``val_map.txt`` + ``ILSVRC2012_val_%08d.JPEG``: each image one colour cell's centre plus a gentle
gradient and noise, at varied non-square sizes. The prediction is computed independently of the model:
on the harness's ``preprocess()`` of the saved JPEG, every pixel of each channel must lie inside one cell,
at least ``MARGIN`` from its edges (else the image is regenerated); that cell is the class. Labels make
the top-1 known exactly, as resnet50.py's: sample i is correct iff
round_half_up((i+1)*f) - round_half_up(i*f) == 1.

    python -m mlperf_harness.models.resnet50.standin_pytorch OUT_DIR [--samples N] [--top1 F] [--seed S]
"""

from __future__ import annotations

import io
import json
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Dict, Optional

import numpy as np
from PIL import Image

from mlperf_harness.models.resnet50.dataset import MEANS, preprocess
from mlperf_harness.standin_cli import main as standin_main, save_state_dict

VERSION = 1
MODEL_FILES = {"pytorch": "resnet50-19c8e357.pth"}
LAYERS = [1, 1, 1, 1]
WIDTH_PER_GROUP = 8
LEVELS = 10
CELL = 256.0 / LEVELS  # 25.6 pixel values per colour cell
MARGIN = 3.0  # pixel values every preprocessed pixel keeps from its cell's edges
MIN_SIDE, MAX_SIDE = 300, 500
JPEG_QUALITY = 95
MAX_ATTEMPTS = 50
# torchvision's normalisation, as mlperf_harness.models.resnet50.weights_pytorch applies it
TV_MEAN = np.array([0.485, 0.456, 0.406]) * 255.0
TV_STD = np.array([0.229, 0.224, 0.225]) * 255.0


def centres() -> np.ndarray:
    return (np.arange(LEVELS) + 0.5) * CELL


def class_of(cells) -> int:
    r, g, b = (int(c) for c in cells)
    return (r * LEVELS + g) * LEVELS + b


def state_dict(seed: int = 0) -> "OrderedDict":
    """The tiny ResNet's weights (see the module docstring); seeded numpy, so torch's RNG plays no part."""
    import torch

    from mlperf_harness.models.resnet50.weights_pytorch import Bottleneck, ResNet

    net = ResNet(Bottleneck, LAYERS, num_classes=1000, width_per_group=WIDTH_PER_GROUP)
    rng = np.random.default_rng([seed, 0x7E550])
    out = OrderedDict()
    for name, value in net.state_dict().items():
        shape = tuple(value.shape)
        if name.endswith("num_batches_tracked"):
            array = np.zeros(shape, np.int64)
        elif name.endswith("running_var"):
            array = rng.uniform(0.5, 1.5, shape)
        elif name.endswith(("running_mean", ".bias")):
            array = rng.normal(0.0, 0.05, shape)
        elif len(shape) == 1:  # BatchNorm weights
            array = rng.uniform(0.8, 1.2, shape)
        else:  # convolutions and fc: He-style scale
            array = rng.normal(0.0, np.sqrt(2.0 / max(1, int(np.prod(shape[1:])))), shape)
        out[name] = np.asarray(array, dtype=np.int64 if name.endswith("num_batches_tracked") else np.float32)

    def identity_bn(prefix: str) -> None:
        n = out[prefix + ".weight"].shape[0]
        eps = 1e-5
        out[prefix + ".weight"] = np.ones(n, np.float32)
        out[prefix + ".bias"] = np.zeros(n, np.float32)
        out[prefix + ".running_mean"] = np.zeros(n, np.float32)
        out[prefix + ".running_var"] = np.full(n, 1.0 - eps, np.float32)

    stem = np.zeros_like(out["conv1.weight"])
    for c in range(3):
        stem[c, c, 3, 3], stem[3 + c, c, 3, 3] = 1.0, -1.0
    out["conv1.weight"] = stem
    identity_bn("bn1")
    for layer in range(1, 5):
        block = f"layer{layer}.0"
        out[f"{block}.bn3.weight"] = np.zeros_like(out[f"{block}.bn3.weight"])  # residual branch off
        out[f"{block}.bn3.bias"] = np.zeros_like(out[f"{block}.bn3.bias"])
        shortcut = np.zeros_like(out[f"{block}.downsample.0.weight"])
        for c in range(6):
            shortcut[c, c, 0, 0] = 1.0
        out[f"{block}.downsample.0.weight"] = shortcut
        identity_bn(f"{block}.downsample.1")
    # fc: logit_k = 2 q_k . x - |q_k|^2 with x = relu(x) - relu(-x), q_k the class's normalised colour.
    q_levels = (centres()[None, :] - TV_MEAN[:, None]) / TV_STD[:, None]  # [3, LEVELS]
    grid = np.array(np.meshgrid(*(range(LEVELS),) * 3, indexing="ij")).reshape(3, -1).T  # class -> cells
    q = np.stack([q_levels[c, grid[:, c]] for c in range(3)], axis=1)  # [1000, 3]
    fc = np.zeros_like(out["fc.weight"])
    fc[:, 0:3], fc[:, 3:6] = 2 * q, -2 * q
    out["fc.weight"] = fc.astype(np.float32)
    out["fc.bias"] = (-(q ** 2).sum(axis=1)).astype(np.float32)
    return OrderedDict((k, torch.from_numpy(np.ascontiguousarray(v))) for k, v in out.items())


def export_model(path, backend: str = "pytorch", seed: int = 0) -> Path:
    return save_state_dict(path, state_dict(seed))


def predict(sample: np.ndarray) -> Optional[int]:
    """The class of a preprocessed [3,224,224] sample, from its pixel ranges alone; None when a channel
    straddles (or comes within MARGIN of) a cell edge."""
    pixels = sample.astype(np.float64) + MEANS.astype(np.float64)[:, None, None]
    cells = []
    for c in range(3):
        lo, hi = float(pixels[c].min()), float(pixels[c].max())
        cell = int(np.floor(lo / CELL))
        if not (cell * CELL + MARGIN <= lo and hi <= (cell + 1) * CELL - MARGIN) or not 0 <= cell < LEVELS:
            return None
        cells.append(cell)
    return class_of(cells)


def synthetic_image(rng: np.random.Generator, cells) -> Image.Image:
    width, height = (int(v) for v in rng.integers(MIN_SIDE, MAX_SIDE + 1, size=2))
    if width == height:
        height += 1
    colour = centres()[list(cells)]
    gx, gy = rng.uniform(-4, 4, size=(2, 3))
    x = np.linspace(-0.5, 0.5, width)[None, :, None]
    y = np.linspace(-0.5, 0.5, height)[:, None, None]
    field = colour[None, None, :] + gx * x + gy * y + rng.uniform(-3, 3, size=(height, width, 3))
    return Image.fromarray(np.clip(np.rint(field), 0, 255).astype(np.uint8), "RGB")


def correct_count(i: int, fraction: float) -> int:
    return int(np.floor(i * fraction + 0.5))


def generate(out_dir: Path, n_samples: int = 300, top1_fraction: float = 0.75, seed: int = 0,
             backend: str = "pytorch") -> Dict:
    """Write model/resnet50-19c8e357.pth, dataset/ and expected.json under ``out_dir``."""
    if backend not in MODEL_FILES:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(MODEL_FILES)}")
    if n_samples < 1:
        raise ValueError("n_samples must be at least 1")
    if not 0.0 <= top1_fraction <= 1.0:
        raise ValueError("top1_fraction must be within 0..1")
    out_dir = Path(out_dir)
    model_dir, data_dir = out_dir / "model", out_dir / "dataset"
    model_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    model_path = export_model(model_dir / MODEL_FILES[backend], backend, seed)

    lines, good = [], 0
    for i in range(n_samples):
        name = f"ILSVRC2012_val_{i + 1:08d}.JPEG"
        path = data_dir / name
        for attempt in range(MAX_ATTEMPTS):
            rng = np.random.default_rng([seed, i, attempt, 0xC0])
            cells = rng.integers(0, LEVELS, size=3)
            buf = io.BytesIO()
            synthetic_image(rng, cells).save(buf, "JPEG", quality=JPEG_QUALITY)
            path.write_bytes(buf.getvalue())
            predicted = predict(preprocess(path))  # decode the saved file, as the harness will
            if predicted == class_of(cells):
                break
        else:
            raise RuntimeError(f"no robust image for sample {i} after {MAX_ATTEMPTS} attempts")
        label = predicted
        if correct_count(i + 1, top1_fraction) - correct_count(i, top1_fraction) == 1:
            good += 1
        else:
            label = (label + int(rng.integers(1, 1000))) % 1000
        lines.append(f"{name} {label}\n")
    (data_dir / "val_map.txt").write_text("".join(lines), encoding="utf-8")
    expected = {"top1": round(100.0 * good / n_samples, 3), "good": good, "total": n_samples,
                "generator": "resnet50_pytorch", "version": VERSION, "backend": backend}
    (out_dir / "expected.json").write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
    return {"model_path": str(model_path), "dataset_path": str(data_dir), **expected}


def main(argv=None) -> int:
    return standin_main("python -m mlperf_harness.models.resnet50.standin_pytorch",
                        "Write the resnet50 state_dict stand-in (pytorch) and its dataset.", MODEL_FILES,
                        ("--samples", 300, "synthetic JPEGs"), ("--top1", 0.75, "fraction labelled correctly"),
                        generate, argv)


if __name__ == "__main__":
    sys.exit(main())
