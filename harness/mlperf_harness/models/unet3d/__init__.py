"""3d-unet-99 / 3d-unet-99.9 (KiTS19; LoadGen key ``3d-unet``, this folder ``unet3d``):
the dataset (dataset.py), the DICE accuracy script (accuracy.py), the stand-in generators
(standin*.py, host only) and the inference the harness runs per sample (below).

One sample is a whole preprocessed volume (1, D, H, W). As the reference's
``base_SUT.py``: 128^3 windows at stride 64 (overlap 0.5), one model call each
(``input`` [1,1,128,128,128] -> ``output`` [1,3,128,128,128]), each result weighted by
a Gaussian patch (``scipy.signal.windows.gaussian(128, 0.125 * 128)``, outer product,
cube root, max 1) and summed, divided by the summed weights, argmax over the 3 classes
-> uint8 (1, 1, D, H, W), the response. One volume per query; SingleStream and Offline
only (the reference's run.py offers no other)."""

from __future__ import annotations

from functools import lru_cache
from typing import List, Sequence

import numpy as np

from mlperf_harness.models.common import ModelCode

ROI = 128
OVERLAP = 0.5


@lru_cache(maxsize=None)
def gaussian_patch(size: int = ROI, std_fraction: float = 0.125) -> np.ndarray:
    """The reference's blending weights for one window: float32 [size]*3, max 1."""
    from scipy.signal.windows import gaussian

    line = gaussian(size, std_fraction * size)
    cube = np.cbrt(np.outer(np.outer(line, line), line).reshape(size, size, size))
    return (cube / cube.max()).astype(np.float32)


def window_origins(shape: Sequence[int], roi: int = ROI, overlap: float = OVERLAP):
    """(i, j, k) corner of every window over a volume of ``shape`` (D, H, W), in the
    reference's order."""
    stride = int(roi * (1 - overlap))
    counts = [(side - roi) // stride + 1 for side in shape]
    for i in range(counts[0]):
        for j in range(counts[1]):
            for k in range(counts[2]):
                yield i * stride, j * stride, k * stride


def sliding_window(run, volume: np.ndarray) -> np.ndarray:
    """``run(window [1,1,128,128,128]) -> [logits [1,3,128,128,128]]`` over ``volume``
    (1, 1, D, H, W) -> the segmentation, uint8 (1, 1, D, H, W)."""
    shape = volume.shape[2:]
    result = np.zeros((1, 3) + tuple(shape), dtype=np.float32)
    weight = np.zeros_like(result)
    patch = gaussian_patch()
    for i, j, k in window_origins(shape):
        window = (Ellipsis, slice(i, i + ROI), slice(j, j + ROI), slice(k, k + ROI))
        logits = np.asarray(run(np.ascontiguousarray(volume[window]))[0], dtype=np.float32)
        result[window] += logits.reshape((1, 3) + (ROI,) * 3) * patch
        weight[window] += patch
    result /= weight
    return np.argmax(result, axis=1).astype(np.uint8)[np.newaxis]


def infer(backend, batch) -> List[np.ndarray]:
    """The harness's inference for a batch of one volume: the segmentation."""
    volume = batch[0] if isinstance(batch, (tuple, list)) else batch
    if volume.shape[0] != 1:
        raise ValueError(f"3d-unet takes one volume per call, got {volume.shape[0]}")
    return [sliding_window(backend.run, volume)]


def segmentation(outputs: Sequence[np.ndarray]) -> np.ndarray:
    """The response: the uint8 segmentation bytes, as accuracy_kits.py reads them."""
    return np.asarray(outputs[0], dtype=np.uint8)


CODE = ModelCode(
    input_names=("input",), outputs=("output",), output_names=("output",),
    postprocess=segmentation, infer="mlperf_harness.models.unet3d:infer", max_batch=1,
    scenarios=("SingleStream", "Offline"),
    dataset_class="mlperf_harness.models.unet3d.dataset:Kits19Dataset",
    accuracy="mlperf_harness.models.unet3d.accuracy")
