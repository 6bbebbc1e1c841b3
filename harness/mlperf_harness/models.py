"""The MLPerf models: LoadGen config key, performance sample count, and how
this harness feeds and decodes them (for the models it supports so far)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from mlperf_harness.errors import HarnessError


def argmax_labels(offset: int) -> Callable[[Sequence[np.ndarray]], np.ndarray]:
    """Postprocess for classifiers exporting an ArgMax output: class index
    minus ``offset`` (1 for the 1001-class models, 0 = background), as
    little-endian int32 -- the response bytes the accuracy script decodes."""

    def postprocess(outputs: Sequence[np.ndarray]) -> np.ndarray:
        classes = np.asarray(outputs[0]).reshape(-1)
        return (classes - offset).astype("<i4")

    return postprocess


def stacked_logits(outputs: Sequence[np.ndarray]) -> np.ndarray:
    """Postprocess for the SQuAD models: start and end logits [N, L] each ->
    float32 [N, L, 2], as the reference packs a response (start, end per
    token); the squad accuracy script decodes exactly this."""
    start, end = (np.asarray(o, dtype=np.float32) for o in outputs[:2])
    return np.stack([start, end], axis=-1).astype("<f4", copy=False)


@dataclass(frozen=True)
class ModelInfo:
    name: str  # MLPerf benchmark name, also the results folder name
    loadgen_key: str  # model key in mlperf.conf / user.conf
    perf_sample_count: Optional[int]  # MLPerf performance sample count; None = whole dataset
    dataset: Optional[str] = None  # dataset handler; None = not runnable by this harness yet
    # The model's inputs, in the order the dataset yields them (names as in the reference's
    # ONNX / TF graphs); a backend maps them onto its model's own inputs.
    input_names: Tuple[str, ...] = ()
    # Every output of the reference model, in its order (positional outputs, e.g. a
    # TorchScript tuple, are named by this), and the ones the harness fetches.
    outputs: Tuple[str, ...] = ()
    output_names: Tuple[str, ...] = ()
    postprocess: Optional[Callable[[Sequence[np.ndarray]], np.ndarray]] = None
    accuracy: Optional[str] = None  # accuracy module under mlperf_harness.accuracy
    input_data_types: str = "fp32"  # measurements.json

    @property
    def input_name(self) -> Optional[str]:
        return self.input_names[0] if self.input_names else None


_BERT_IO = dict(input_names=("input_ids", "input_mask", "segment_ids"),
                outputs=("output_start_logits", "output_end_logits"),
                output_names=("output_start_logits", "output_end_logits"),
                postprocess=stacked_logits, accuracy="squad", input_data_types="int64")

_TABLE: List[ModelInfo] = [
    ModelInfo("resnet50", "resnet50", 1024, dataset="imagenet",
              input_names=("input_tensor:0",), outputs=("ArgMax:0", "softmax_tensor:0"),
              output_names=("ArgMax:0",), postprocess=argmax_labels(1), accuracy="imagenet"),
    ModelInfo("retinanet", "retinanet", 64),
    ModelInfo("bert-99", "bert", 10833, dataset="squad", **_BERT_IO),
    ModelInfo("bert-99.9", "bert", 10833, dataset="squad", **_BERT_IO),
    ModelInfo("3d-unet-99", "3d-unet", None),
    ModelInfo("3d-unet-99.9", "3d-unet", None),
    ModelInfo("dlrm-v2-99", "dlrm-v2", 204800),
    ModelInfo("dlrm-v2-99.9", "dlrm-v2", 204800),
    ModelInfo("gptj-99", "gptj", 13368),
    ModelInfo("gptj-99.9", "gptj", 13368),
    ModelInfo("llama2-70b-99", "llama2-70b", 24576),
    ModelInfo("llama2-70b-99.9", "llama2-70b", 24576),
    ModelInfo("rnnt", "rnnt", 2513),
    ModelInfo("stable-diffusion-xl", "stable-diffusion-xl", 5000),
]

MODELS: Dict[str, ModelInfo] = {m.name: m for m in _TABLE}


def supported_models() -> List[str]:
    """Models this harness can run end to end."""
    return [m.name for m in _TABLE if m.dataset is not None]


def get_model(name: str) -> ModelInfo:
    try:
        return MODELS[name]
    except KeyError:
        raise HarnessError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None


def perf_sample_count(model: ModelInfo, total: int) -> int:
    """performance_sample_count: the model's MLPerf figure, capped by the samples in use."""
    if model.perf_sample_count is None:
        return total
    return min(total, model.perf_sample_count)
