"""bert-99 / bert-99.9 (SQuAD v1.1): the dataset and tokenizer (dataset.py,
wordpiece.py), the accuracy script (accuracy.py), the stand-in generators
(standin*.py, host only) and what the harness feeds and decodes (below).
LoadGen key, sample count and dataset name: images.yaml."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mlperf_harness.models.common import ModelCode


def stacked_logits(outputs: Sequence[np.ndarray]) -> np.ndarray:
    """Postprocess for the SQuAD models: start and end logits [N, L] each ->
    float32 [N, L, 2], as the reference packs a response (start, end per
    token); the squad accuracy script decodes exactly this."""
    start, end = outputs[0], outputs[1]
    packed = np.empty(np.shape(start) + (2,), dtype="<f4")  # one allocation, cast on assignment
    packed[..., 0] = start
    packed[..., 1] = end
    return packed


CODE = ModelCode(
    input_names=("input_ids", "input_mask", "segment_ids"),
    # the reference's int8 model (bert_large_v1_1_fake_quant.onnx) names them as Hugging Face does
    input_aliases={"input_mask": ("attention_mask",), "segment_ids": ("token_type_ids",)},
    outputs=("output_start_logits", "output_end_logits"),
    output_names=("output_start_logits", "output_end_logits"),
    postprocess=stacked_logits, input_data_types="int64", response_dtype="float32",
    dataset_class="mlperf_harness.models.bert.dataset:SquadDataset",
    accuracy="mlperf_harness.models.bert.accuracy",
    dataset_args={
        "vocab_file": ("path", "WordPiece vocabulary (default: vocab.txt in the dataset "
                               "folder, else beside the model)"),
        "cache_dir": ("path", "keep the tokenized features here (created; reused)"),
    })
