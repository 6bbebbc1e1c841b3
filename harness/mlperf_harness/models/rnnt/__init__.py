"""rnnt (retired from MLPerf inference; LibriSpeech dev-clean): the dataset (dataset.py), the WER
accuracy script (accuracy.py), the stand-in generator (standin.py, host only) and the inference
the harness runs per sample (below).

One sample is a waveform, float32 [T] at 16 kHz. As the reference's ``pytorch_SUT.py``, the
feature extraction runs inside the timed path, one utterance per model call: here the power
spectrogram with the reference's framing (20 ms Hann window = 320 samples, 10 ms hop, n_fft
512, centred with reflect padding), log(power + 1e-10) -> ``features`` float32 [1, T', 257].
The model returns per-frame logits [1, T', 29] over LABELS plus the blank (index 28, the
reference's ``blank_index = len(labels)``); greedy decoding takes the best label per frame,
collapses repeats and drops blanks -> int64 label ids, the response (the reference's
``"q"`` array). SingleStream, Offline and Server.

Not the reference's: its 80 log-mel filterbank with per-feature normalisation and frame
splicing, and the RNN-T's own greedy decoder (prediction + joint network) -- the published
RNN-T checkpoint loads only with the reference's model source, so the pytorch backend runs a
TorchScript module of the signature above (the stand-in, or a user's export via --model)."""

from __future__ import annotations

from typing import List

import numpy as np

from mlperf_harness.models.common import ModelCode

LABELS = (" ", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r",
          "s", "t", "u", "v", "w", "x", "y", "z", "'")
BLANK = len(LABELS)
SAMPLE_RATE = 16000
WINDOW, HOP, N_FFT = 320, 160, 512


def spectrogram(waveform: np.ndarray) -> np.ndarray:
    """float32 [T] -> log power spectrogram float32 [1, frames, N_FFT // 2 + 1]."""
    wave = np.asarray(waveform, dtype=np.float32).reshape(-1)
    pad = N_FFT // 2
    wave = np.pad(wave, pad, mode="reflect") if wave.size > pad else np.pad(wave, pad)
    frames = 1 + (wave.size - N_FFT) // HOP
    window = np.zeros(N_FFT, dtype=np.float32)
    offset = (N_FFT - WINDOW) // 2  # torch.stft centres a shorter window in n_fft
    window[offset:offset + WINDOW] = np.hanning(WINDOW + 1)[:-1]  # periodic Hann
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    power = np.abs(np.fft.rfft(wave[index] * window, n=N_FFT, axis=1)) ** 2
    return np.log(power + 1e-10).astype(np.float32)[np.newaxis]


def greedy(logits: np.ndarray) -> np.ndarray:
    """Per-frame logits [frames, BLANK + 1] -> int64 label ids: best per frame, repeats collapsed,
    blanks dropped."""
    best = np.argmax(np.asarray(logits).reshape(-1, BLANK + 1), axis=1)
    keep = np.ones(best.size, dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    best = best[keep]
    return best[best != BLANK].astype(np.int64)


def infer(backend, batch) -> List[np.ndarray]:
    """One utterance (waveform [1, T]) -> [its label ids, int64 [k]]."""
    waveform = batch[0] if isinstance(batch, (tuple, list)) else batch
    if waveform.shape[0] != 1:
        raise ValueError(f"rnnt takes one utterance per call, got {waveform.shape[0]}")
    return [greedy(backend.run(spectrogram(waveform[0]))[0])]


def transcript(outputs, indices) -> List[np.ndarray]:
    """The one utterance's response: its label ids (any length, possibly none)."""
    if len(indices) != 1:
        raise ValueError(f"rnnt takes one utterance per call, got {len(indices)}")
    return [np.asarray(outputs[0], dtype="<i8")]


CODE = ModelCode(
    input_names=("features",), outputs=("logits",), output_names=("logits",),
    responses=transcript, infer="mlperf_harness.models.rnnt:infer", max_batch=1,
    response_dtype="int64",
    dataset_class="mlperf_harness.models.rnnt.dataset:LibriSpeechDataset",
    accuracy="mlperf_harness.models.rnnt.accuracy")
