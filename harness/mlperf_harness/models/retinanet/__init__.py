"""retinanet (OpenImages MLPerf subset): the dataset (dataset.py), the accuracy script
(accuracy.py), the stand-in generators (standin*.py, host only) and what the harness
feeds and decodes (below). LoadGen key, sample count and dataset name: images.yaml.

Batching: one image per model call, as the reference's ONNX path (its post-processing
reads ``boxes, labels, scores`` of a single image; the seed forces batch 1)."""

from __future__ import annotations

from typing import List, Sequence

import numpy as np

from mlperf_harness.models.common import ModelCode

SCORE_THRESHOLD = 0.05  # the reference drops detections below this score
INPUT_SIZE = 800  # boxes come in 800x800 input pixels


def detection_rows(boxes, labels, scores, qsl_index: int) -> np.ndarray:
    """One image's detections -> float32 rows ``[qsl_idx, ymin, xmin, ymax, xmax, score,
    label]`` with the box scaled to 0..1, as the reference's PostProcessOpenImagesRetinanet:
    the model's boxes are (xmin, ymin, xmax, ymax) in input pixels, sorted by score, and
    the rows stop at the first score under 0.05."""
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    below = np.flatnonzero(scores < SCORE_THRESHOLD)
    keep = int(below[0]) if below.size else scores.size
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)[:keep] / np.float32(INPUT_SIZE)
    rows = np.empty((keep, 7), dtype="<f4")
    rows[:, 0] = qsl_index
    rows[:, 1:5] = boxes[:, [1, 0, 3, 2]]
    rows[:, 5] = scores[:keep]
    rows[:, 6] = np.asarray(labels).reshape(-1)[:keep]
    return rows


def detection_responses(outputs: Sequence[np.ndarray], indices: Sequence[int]) -> List[np.ndarray]:
    """The outputs of one image (boxes [N,4], labels [N], scores [N]) -> its response."""
    if len(indices) != 1:
        raise ValueError(f"retinanet takes one image per call, got {len(indices)}")
    boxes, labels, scores = outputs[:3]
    return [detection_rows(boxes, labels, scores, indices[0])]


CODE = ModelCode(
    input_names=("images",), outputs=("boxes", "labels", "scores"),
    output_names=("boxes", "labels", "scores"), responses=detection_responses, max_batch=1,
    dataset_class="mlperf_harness.models.retinanet.dataset:OpenImagesDataset",
    accuracy="mlperf_harness.models.retinanet.accuracy",
    dataset_args={
        "cache_dir": ("path", "keep preprocessed images as .npy files here (created; reused)"),
    })
