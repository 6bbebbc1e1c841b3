"""A 3d-unet stand-in: a tiny model with the reference 3d-unet's input and output
(``input`` [N,1,128,128,128] -> ``output`` [N,3,128,128,128]) and a preprocessed-KiTS19
folder whose mean DICE is known exactly.

Dataset: ``preprocessed_files.pkl`` + ``<case>.pkl`` ([image, label], as the reference's
preprocess.py writes them). Cases alternate 128^3 (one window) and 192x128x128 (two
overlapping windows). Each holds an ellipsoid kidney with a spherical tumor inside;
the image is a band per class plus seeded noise: background -2.2 (the reference's
padding value), kidney 0.2, tumor 3.0, each +-0.3.

Model: one 1x1x1 convolution, logits (-x, 1, x - 0.5): class 0 below -1, 1 between
-1 and 1.5, 2 above, so the argmax is the band with a margin of at least 0.9. Every
window computes the same logits for a voxel, so the Gaussian blending returns them and
the segmentation equals the bands: DICE 1.0 for kidney and tumor. ``mislabel`` relabels
that fraction of each case's tumor voxels (the first in C order) as kidney in the
ground truth only; with P_k, P_t predicted voxels and m relabelled,
kidney = (2 P_k + e) / (2 P_k + m + e), tumor = (2 (P_t - m) + e) / (2 P_t - m + e),
e = 1e-6, computed here from the counts (independently of the harness's DICE code).

- onnxruntime: ``3dunet_kits19_128x128x128_dynbatch.onnx`` (opset 13).
- pytorch: ``3dunet_kits19_pytorch.ptc``, TorchScript returning the logits tensor.

    python -m mlperf_harness.models.unet3d.standin OUT_DIR [--backend NAME] [--cases N] [--mislabel F] [--seed S]
"""

from __future__ import annotations

import math
import pickle
import sys
from pathlib import Path
from typing import Dict

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mlperf_harness.models.resnet50.standin import compile_torch_source, torchscript_bytes
from mlperf_harness.models.unet3d.dataset import INDEX
from mlperf_harness.standin_cli import main as standin_main, onnx_model, prepare, write_expected

VERSION = 1
ROI = 128
SHAPES = ((128, 128, 128), (192, 128, 128))
BANDS = (-2.2, 0.2, 3.0)  # background, kidney, tumor
NOISE = 0.3
WEIGHT = np.array([-1.0, 0.0, 1.0], dtype=np.float32).reshape(3, 1, 1, 1, 1)
BIAS = np.array([0.0, 1.0, -0.5], dtype=np.float32)
SMOOTH = 1e-6
MODEL_FILES = {"onnxruntime": "3dunet_kits19_128x128x128_dynbatch.onnx",
               "pytorch": "3dunet_kits19_pytorch.ptc"}


def build_onnx() -> onnx.ModelProto:
    shape = ["batch", 1, ROI, ROI, ROI]
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "weight", "bias"], ["output"], kernel_shape=[1, 1, 1])],
        "unet3d_standin",
        inputs=[helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        outputs=[helper.make_tensor_value_info("output", TensorProto.FLOAT,
                                               ["batch", 3, ROI, ROI, ROI])],
        initializer=[numpy_helper.from_array(WEIGHT, "weight"), numpy_helper.from_array(BIAS, "bias")])
    return onnx_model(graph, 13, 7, "3d-unet", VERSION,
                      "Synthetic stand-in with the 3d-unet ONNX model's signature; not a real model.")


_TORCH_SOURCE = """
import torch


class Unet3dStandin(torch.nn.Module):
    def __init__(self, weight, bias):
        super().__init__()
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)

    def forward(self, volume: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv3d(volume, self.weight, self.bias)
"""


def model_bytes(backend: str) -> bytes:
    if backend == "onnxruntime":
        return build_onnx().SerializeToString(deterministic=True)
    if backend == "pytorch":
        import torch

        namespace = compile_torch_source(_TORCH_SOURCE, "mlperf_docker_standins/unet3d_torch.py")
        return torchscript_bytes(namespace["Unet3dStandin"](torch.from_numpy(WEIGHT.copy()),
                                                            torch.from_numpy(BIAS.copy())))
    raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(MODEL_FILES)}")


def export_model(path, backend: str) -> Path:
    path = Path(path)
    path.write_bytes(model_bytes(backend))
    return path


def case_volumes(shape, rng: np.random.Generator):
    """(image float32 (1,D,H,W), label uint8 (1,D,H,W)) of one synthetic case."""
    grid = np.stack(np.meshgrid(*(np.arange(s, dtype=np.float32) for s in shape), indexing="ij"))
    centre = np.array([s / 2 for s in shape], dtype=np.float32).reshape(3, 1, 1, 1)
    centre += rng.uniform(-8, 8, size=(3, 1, 1, 1)).astype(np.float32)
    radii = np.array([s * rng.uniform(0.2, 0.3) for s in shape], dtype=np.float32).reshape(3, 1, 1, 1)
    label = np.zeros(shape, dtype=np.uint8)
    label[(((grid - centre) / radii) ** 2).sum(axis=0) <= 1.0] = 1
    tumor_radius = float(radii.min()) * 0.5
    label[(((grid - centre) / tumor_radius) ** 2).sum(axis=0) <= 1.0] = 2
    image = np.asarray(BANDS, dtype=np.float32)[label]
    image += rng.uniform(-NOISE, NOISE, size=shape).astype(np.float32)
    return image[np.newaxis], label[np.newaxis]


def mislabel(label: np.ndarray, fraction: float) -> int:
    """Relabel the first round-half-up(fraction * tumor voxels) tumor voxels as kidney."""
    flat = label.reshape(-1)
    tumor = np.flatnonzero(flat == 2)
    count = int(math.floor(fraction * tumor.size + 0.5))
    flat[tumor[:count]] = 1
    return count


def generate(out_dir: Path, n_cases: int = 2, mislabel_fraction: float = 0.0, seed: int = 0,
             backend: str = "onnxruntime") -> Dict:
    """Write the stand-in model (``backend``'s format), dataset and expected.json under ``out_dir``."""
    out_dir = Path(out_dir)
    model_dir, data_dir = prepare(out_dir, backend, MODEL_FILES, ("n_cases", n_cases),
                                  ("mislabel_fraction", mislabel_fraction))
    model_path = model_dir / MODEL_FILES[backend]
    model_path.write_bytes(model_bytes(backend))

    names, aux, scores = [], {}, {}
    for n in range(n_cases):
        case = f"case_{n * 3:05d}"
        shape = SHAPES[n % len(SHAPES)]
        image, label = case_volumes(shape, np.random.default_rng([seed, n]))
        kidney, tumor = int((label == 1).sum()), int((label == 2).sum())  # = the prediction
        m = mislabel(label, mislabel_fraction)
        scores[case] = ((2 * kidney + SMOOTH) / (2 * kidney + m + SMOOTH),
                        (2 * (tumor - m) + SMOOTH) / (2 * tumor - m + SMOOTH))
        with open(data_dir / f"{case}.pkl", "wb") as handle:
            pickle.dump([image, label], handle)
        names.append(case)
        aux[case] = {"case": case, "image_shape": image.shape, "original_affine": np.eye(4),
                     "reshaped_affine": np.eye(4), "zoom_factor": np.ones(3)}
    with open(data_dir / INDEX, "wb") as handle:
        pickle.dump({"file_list": names, "cases": aux}, handle)

    values = np.array(list(scores.values()))
    mean, kidney, tumor = float(values.mean(axis=1).mean()), float(values[:, 0].mean()), float(values[:, 1].mean())
    expected = {"mean": mean, "kidney": kidney, "tumor": tumor,
                "line": f"Accuracy: mean = {mean:.5f}, kidney = {kidney:.4f}, tumor = {tumor:.4f}",
                "cases": {c: list(s) for c, s in scores.items()},
                "generator": "unet3d", "version": VERSION, "backend": backend}
    return write_expected(out_dir, model_path, data_dir, expected)


def main(argv=None) -> int:
    return standin_main("python -m mlperf_harness.models.unet3d.standin",
                        "Write the 3d-unet stand-in model and preprocessed KiTS19 cases.",
                        MODEL_FILES, ("--cases", 2, "synthetic cases"),
                        ("--mislabel", 0.0, "fraction of tumor voxels labelled kidney in the "
                                            "ground truth (0: DICE 1.0)"), generate, argv)


if __name__ == "__main__":
    sys.exit(main())
