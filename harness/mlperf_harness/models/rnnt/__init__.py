"""rnnt (retired from MLPerf inference; LibriSpeech dev-clean): the dataset (dataset.py), the WER
accuracy script (accuracy.py), the reference's features (features.py), its RNN-T and greedy decoder
(weights_pytorch.py, for the pytorch backend), the stand-in generator (standin.py, host only) and the
inference the harness runs per sample (below).

One sample is a waveform, float32 [T] at 16 kHz. As the reference's ``pytorch_SUT.py``, one utterance
per call, and the feature extraction runs inside the timed path: the reference's log-mel filterbank,
spliced and normalised (features.py) -> ``features`` float32 [T', 1, 240] (its ``feature.permute(2, 0,
1)``) and ``feature_lengths`` int64 [1]. The model (GreedyRnnt: encoder, then greedy RNN-T decoding
with the prediction and joint networks) returns the label ids int64 [1, U], padded with -1 (none here:
one utterance); the response is the ids, int64 (the reference's ``array.array("q", transcript)``),
indices into LABELS (the blank, index 28, is never emitted). SingleStream, Offline and Server.
"""

from __future__ import annotations

from typing import List

import numpy as np

from mlperf_harness.models.common import ModelCode
from mlperf_harness.models.rnnt.features import SAMPLE_RATE, extract

# rnnt.toml's [labels]; the model's blank is one past them (helpers.add_blank_label)
LABELS = (" ", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r",
          "s", "t", "u", "v", "w", "x", "y", "z", "'")
BLANK = len(LABELS)

__all__ = ["BLANK", "CODE", "LABELS", "SAMPLE_RATE", "infer", "transcript"]


def infer(backend, batch) -> List[np.ndarray]:
    """One utterance (waveform [1, T]) -> [its label ids, int64 [k]]."""
    waveform = batch[0] if isinstance(batch, (tuple, list)) else batch
    if waveform.shape[0] != 1:
        raise ValueError(f"rnnt takes one utterance per call, got {waveform.shape[0]}")
    feats = extract(waveform[0])
    ids = np.asarray(backend.run((np.ascontiguousarray(feats.T[:, np.newaxis, :]),
                                  np.array([feats.shape[1]], dtype=np.int64)))[0]).reshape(-1)
    return [ids[ids >= 0].astype(np.int64)]


def transcript(outputs, indices) -> List[np.ndarray]:
    """The one utterance's response: its label ids (any length, possibly none)."""
    if len(indices) != 1:
        raise ValueError(f"rnnt takes one utterance per call, got {len(indices)}")
    return [np.asarray(outputs[0], dtype="<i8")]


CODE = ModelCode(
    input_names=("features", "feature_lengths"), outputs=("transcripts",), output_names=("transcripts",),
    responses=transcript, infer="mlperf_harness.models.rnnt:infer", max_batch=1,
    response_dtype="int64",
    dataset_class="mlperf_harness.models.rnnt.dataset:LibriSpeechDataset",
    accuracy="mlperf_harness.models.rnnt.accuracy")
