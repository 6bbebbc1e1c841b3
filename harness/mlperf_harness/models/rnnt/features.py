"""The reference's rnnt features in numpy: ``AudioPreprocessing`` / ``FilterbankFeatures``
(``pytorch/preprocessing.py``, ``pytorch/parts/features.py``) with ``rnnt.toml``'s ``[input_eval]``:

    sample_rate 16000, window_size 0.02 (320 samples), window_stride 0.01 (160), n_fft 512,
    window "hann" (torch.hann_window(320, periodic=False)), features 80 (librosa's slaney mel
    filterbank, fmin 0, fmax 8 kHz), feat_type "logfbank", frame_splicing 3, normalize
    "per_feature", dither 1e-5, pad_to 0; preemphasis 0.97 (the class default).

In that order, as its forward: preemphasis ``x[0], x[1:] - 0.97 x[:-1]``; ``torch.stft(center=True)``
(reflect padding of n_fft/2, the window centred in n_fft); power = re^2 + im^2; the deterministic
dither (``use_deterministic_dithering``: power + dither^2, no random noise); mel = fb @ power;
log(mel + 1e-20); frame splicing (frame t gets frames t, t+1, t+2 stacked, zeros past the end,
then every 3rd frame kept); per-feature normalisation over the first ``seq_len`` frames (mean and
unbiased std, std + 1e-5), seq_len = ceil(ceil(samples / 160) / 3); then cut to seq_len frames.
Computed in float64, returned as float32 [240, seq_len] (the reference's [B, 240, T] for B = 1).
"""

from __future__ import annotations

import math

import numpy as np

SAMPLE_RATE = 16000
WIN_LENGTH, HOP_LENGTH, N_FFT = 320, 160, 512
N_MELS, FRAME_SPLICING = 80, 3
FEATURES = N_MELS * FRAME_SPLICING  # the encoder's input size
PREEMPHASIS, DITHER = 0.97, 1e-5
LOG_GUARD, STD_GUARD = 1e-20, 1e-5


def _hz_to_mel(hz):
    """librosa.hz_to_mel(htk=False): linear below 1 kHz, logarithmic above (Slaney)."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
    return np.where(hz >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(hz, min_log_hz) / min_log_hz) / logstep,
                    hz / f_sp)


def _mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin: float = 0.0,
                   fmax: float = SAMPLE_RATE / 2) -> np.ndarray:
    """librosa.filters.mel(sr=, n_fft=, n_mels=, fmin=, fmax=) with its defaults (htk=False,
    norm="slaney"): triangles between mel-spaced edges, each scaled to unit area; float32 [n_mels, 1 + n_fft/2]."""
    fft_hz = np.linspace(0, sr / 2, 1 + n_fft // 2)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    weights = np.maximum(0.0, np.minimum(-ramps[:-2] / widths[:-1, None], ramps[2:] / widths[1:, None]))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


FILTERBANK = mel_filterbank()
# torch.hann_window(320, periodic=False), centred in n_fft as torch.stft places a shorter window
_WINDOW = np.zeros(N_FFT)
_WINDOW[(N_FFT - WIN_LENGTH) // 2:(N_FFT + WIN_LENGTH) // 2] = np.hanning(WIN_LENGTH)


def seq_len(samples: int) -> int:
    """FilterbankFeatures.get_seq_len: frames after splicing, ceil(ceil(samples / hop) / 3)."""
    return -(-(-(-samples // HOP_LENGTH)) // FRAME_SPLICING)


def extract(waveform: np.ndarray) -> np.ndarray:
    """float32 waveform [T] (16 kHz, in [-1, 1)) -> float32 [240, seq_len(T)]."""
    x = np.asarray(waveform, dtype=np.float64).reshape(-1)
    if x.size <= N_FFT // 2:
        raise ValueError(f"rnnt features need more than {N_FFT // 2} samples, got {x.size}")
    length = seq_len(x.size)
    x = np.concatenate([x[:1], x[1:] - PREEMPHASIS * x[:-1]])
    x = np.pad(x, N_FFT // 2, mode="reflect")
    frames = 1 + (x.size - N_FFT) // HOP_LENGTH
    index = np.arange(N_FFT)[None, :] + HOP_LENGTH * np.arange(frames)[:, None]
    spectrum = np.fft.rfft(x[index] * _WINDOW, n=N_FFT, axis=1)
    power = spectrum.real ** 2 + spectrum.imag ** 2 + DITHER ** 2
    mel = np.log(FILTERBANK.astype(np.float64) @ power.T + LOG_GUARD)  # [80, frames]
    spliced = [mel]
    for n in range(1, FRAME_SPLICING):
        shifted = np.zeros_like(mel)
        shifted[:, :-n] = mel[:, n:]
        spliced.append(shifted)
    x = np.concatenate(spliced, axis=0)[:, ::FRAME_SPLICING]
    valid = x[:, :length]
    mean = valid.mean(axis=1, keepdims=True)
    std = valid.std(axis=1, ddof=1, keepdims=True) + STD_GUARD
    return ((x - mean) / std)[:, :length].astype(np.float32)
