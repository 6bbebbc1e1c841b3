"""resnet50 (ImageNet): the dataset (dataset.py), the accuracy script (accuracy.py),
the stand-in generators (standin*.py, host only) and what the harness feeds and
decodes (below). LoadGen key, sample count and dataset name: images.yaml."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from mlperf_harness.models.common import ModelCode


def argmax_labels(offset: int) -> Callable[[Sequence[np.ndarray]], np.ndarray]:
    """Postprocess for classifiers exporting an ArgMax output: class index
    minus ``offset`` (1 for the 1001-class models, 0 = background), as
    little-endian int32 -- the response bytes the accuracy script decodes."""

    def postprocess(outputs: Sequence[np.ndarray]) -> np.ndarray:
        classes = np.asarray(outputs[0]).reshape(-1)
        return (classes - offset).astype("<i4")

    return postprocess


CODE = ModelCode(
    input_names=("input_tensor:0",), outputs=("ArgMax:0", "softmax_tensor:0"),
    output_names=("ArgMax:0",), postprocess=argmax_labels(1),
    dataset_class="mlperf_harness.models.resnet50.dataset:ImagenetDataset",
    accuracy="mlperf_harness.models.resnet50.accuracy",
    dataset_args={
        "cache_dir": ("path", "keep preprocessed samples as .npy files here (created; "
                              "reused by later runs)"),
        "layout": ("choice:NCHW|NHWC", "override the backend's image layout"),
    })
