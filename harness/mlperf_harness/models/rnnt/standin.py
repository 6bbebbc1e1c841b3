"""An rnnt stand-in: a "tone alphabet" LibriSpeech folder and a tiny TorchScript model that reads it
back exactly (WER 0).

Audio: every character of the transcript (the space too) is a 50 ms sine at the centre of FFT
bin 16 + 8 * label (500 Hz .. 7.25 kHz), amplitude 0.5, each followed by 30 ms of silence (so a
repeated letter is two tones), written as 16 kHz mono 16-bit wavs with the standard library's
``wave`` plus the reference's manifest ``dev-clean-wav.json``.

Model: per frame of the harness's log power spectrogram, the logit of label j is the log power
at its bin and the blank's logit is THRESHOLD, so a frame holding most of a tone decodes to its
character and silence (or a frame with only a sliver of tone) to blank; greedy decoding
collapses each tone's frames into its character: the transcript, WER 0. ``swap`` replaces the
first word of that fraction of the transcripts (not of the audio) with "xyzzy": WER = swapped /
total words, exactly.

    python -m mlperf_harness.models.rnnt.standin OUT_DIR [--utterances N] [--swap F]
"""

from __future__ import annotations

import json
import math
import sys
import wave
from pathlib import Path
from typing import Dict

import numpy as np

from mlperf_harness.models.resnet50.standin import compile_torch_source, torchscript_bytes
from mlperf_harness.models.rnnt import BLANK, LABELS, N_FFT, SAMPLE_RATE
from mlperf_harness.models.rnnt.dataset import MANIFEST
from mlperf_harness.standin_cli import main as standin_main, prepare, write_expected

VERSION = 1
TONE_S, GAP_S, AMPLITUDE = 0.05, 0.03, 0.5
BINS = np.array([16 + 8 * j for j in range(len(LABELS))], dtype=np.int64)
THRESHOLD = 4.0
MODEL_FILES = {"pytorch": "DistributedDataParallel_1576581068.9962234-epoch-100.pt"}
PHRASES = ("the quick brown fox", "jumps over the lazy dog", "it's a jolly good hex", "we all queue here",
           "pack my box with five dozen liquor jugs", "hello world", "don't stop", "mississippi")

_TORCH_SOURCE = """
import torch


class RnntStandin(torch.nn.Module):
    def __init__(self, bins, threshold):
        super().__init__()
        self.register_buffer("bins", bins)
        self.register_buffer("threshold", threshold)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        chars = features.index_select(2, self.bins)
        blank = self.threshold.expand(chars.shape[0], chars.shape[1], 1)
        return torch.cat([chars, blank], dim=2)
"""


def model_bytes(backend: str = "pytorch") -> bytes:
    if backend != "pytorch":
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(MODEL_FILES)}")
    import torch

    namespace = compile_torch_source(_TORCH_SOURCE, "mlperf_docker_standins/rnnt_torch.py")
    return torchscript_bytes(namespace["RnntStandin"](torch.from_numpy(BINS.copy()),
                                                      torch.tensor([THRESHOLD], dtype=torch.float32)))


def export_model(path, backend: str = "pytorch") -> Path:
    path = Path(path)
    path.write_bytes(model_bytes(backend))
    return path


def tones(text: str) -> np.ndarray:
    """The tone-alphabet waveform of ``text``, int16."""
    t = np.arange(int(TONE_S * SAMPLE_RATE)) / SAMPLE_RATE
    gap = np.zeros(int(GAP_S * SAMPLE_RATE))
    parts = [gap]
    for char in text:
        frequency = BINS[LABELS.index(char)] * SAMPLE_RATE / N_FFT
        parts += [AMPLITUDE * np.sin(2 * np.pi * frequency * t), gap]
    return np.round(np.concatenate(parts) * 32767).astype("<i2")


def write_wav(path: Path, samples: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(SAMPLE_RATE)
        handle.writeframes(samples.tobytes())


def generate(out_dir: Path, n_utterances: int = 8, swap: float = 0.0, seed: int = 0,
             backend: str = "pytorch") -> Dict:
    """Write the stand-in model, dataset and expected.json under ``out_dir``."""
    model_dir, data_dir = prepare(out_dir, backend, MODEL_FILES, ("n_utterances", n_utterances), ("swap", swap))
    model_path = model_dir / MODEL_FILES[backend]
    model_path.write_bytes(model_bytes(backend))
    swapped = int(math.floor(swap * n_utterances + 0.5))
    manifest, words = [], 0
    for n in range(n_utterances):
        text = PHRASES[(n + seed) % len(PHRASES)]
        samples = tones(text)
        fname = f"dev-clean-wav/{1000 + n}/{2000 + n}/{1000 + n}-{2000 + n}-{n:04d}.wav"
        write_wav(data_dir / fname, samples)
        duration = samples.size / SAMPLE_RATE
        said = text.upper() if n >= swapped else " ".join(["XYZZY"] + text.split()[1:]).upper()
        manifest.append({"transcript": said, "files": [
            {"channels": 1, "sample_rate": float(SAMPLE_RATE), "bitdepth": 16, "bitrate": 256000.0,
             "duration": duration, "num_samples": int(samples.size), "encoding": "Signed Integer PCM",
             "silent": False, "fname": fname, "speed": 1}],
            "original_duration": duration, "original_num_samples": int(samples.size)})
        words += len(text.split())
    (data_dir / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    wer = swapped / words
    expected = {"wer": wer, "words": words, "swapped": swapped,
                "line": "Word Error Rate: {:}%, accuracy={:}%".format(wer * 100, (1 - wer) * 100),
                "generator": "rnnt", "version": VERSION, "backend": backend, "blank": BLANK}
    return write_expected(out_dir, model_path, data_dir, expected)


def main(argv=None) -> int:
    return standin_main("python -m mlperf_harness.models.rnnt.standin",
                        "Write the rnnt stand-in model and tone-alphabet LibriSpeech folder.",
                        MODEL_FILES, ("--utterances", 8, "utterances"),
                        ("--swap", 0.0, "fraction of transcripts with their first word replaced"),
                        generate, argv)


if __name__ == "__main__":
    sys.exit(main())
