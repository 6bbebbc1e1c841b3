"""dlrm-99 / dlrm-99.9 (LoadGen key ``dlrm-v2``; checker names dlrm-v2-99/99.9): the multi-hot
Criteo dataset (dataset.py), the AUC accuracy script (accuracy.py), the stand-in generator
(standin.py, host only) and the inference the harness runs per sample (below).

One sample is an aggregated group of rows (the reference's ``MultihotCriteo``): dense float32
[n, 13], the 26 multi-hot features side by side as int32 [n, 214] (MULTI_HOT_SIZES slots each)
and the rows' labels [n]. The model takes (dense, sparse) and returns the click probability
per row; the response is float32 ``[prob, label]`` per row, as the reference's SUT answers,
so the accuracy script needs no ground-truth file. Samples differ in size (the reference's
quantile trace), so one sample per model call; Server and Offline only (the reference's
run_local.sh offers no other).

The reference's model is torchrec's ``DLRM_DCN`` from a 97 GB torchsnapshot checkpoint; torchrec
and fbgemm-gpu are not packaged here, so the pytorch backend loads a TorchScript module with
this signature (the stand-in, or a user's export via ``--model``)."""

from __future__ import annotations

from typing import List

import numpy as np

from mlperf_harness.models.common import ModelCode

DENSE_FEATURES = 13
MULTI_HOT_SIZES = (3, 2, 1, 2, 6, 1, 1, 1, 1, 7, 3, 8, 1, 6, 9, 5, 1, 1, 1, 12, 100, 27, 10, 3, 1, 1)
SPARSE_SLOTS = sum(MULTI_HOT_SIZES)  # 214


def infer(backend, batch) -> List[np.ndarray]:
    """One aggregated sample (dense [1,n,13], sparse [1,n,214], labels [1,n]) -> [[n, 2] float32
    (prob, label) per row]."""
    dense, sparse, labels = batch
    if dense.shape[0] != 1:
        raise ValueError(f"dlrm-v2 takes one aggregated sample per call, got {dense.shape[0]}")
    prob = np.asarray(backend.run((dense[0], sparse[0]))[0], dtype=np.float32).reshape(-1)
    if prob.shape[0] != dense.shape[1]:
        raise ValueError(f"the model returned {prob.shape[0]} probabilities for {dense.shape[1]} rows")
    return [np.stack([prob, labels[0].astype(np.float32)], axis=1)[np.newaxis]]


def rows(outputs) -> np.ndarray:
    """The response of the one sample: float32 [1, n, 2]."""
    return np.ascontiguousarray(outputs[0], dtype="<f4")


CODE = ModelCode(
    input_names=("dense", "sparse"), outputs=("prob",), output_names=("prob",),
    postprocess=rows, infer="mlperf_harness.models.dlrm_v2:infer", max_batch=1,
    check_model="mlperf_harness.models.dlrm_v2.weights_pytorch:check_model",
    scenarios=("Server", "Offline"), response_dtype="float32",
    dataset_class="mlperf_harness.models.dlrm_v2.dataset:CriteoDataset",
    accuracy="mlperf_harness.models.dlrm_v2.accuracy",
    dataset_args={
        "samples_to_aggregate": ("int", "fixed rows per sample (instead of the quantile trace)"),
        "quantile_file": ("path", "the reference's tools/dist_quantile.txt (default: "
                                  "dist_quantile.txt in the dataset folder)"),
    })
