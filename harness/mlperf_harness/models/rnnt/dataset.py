"""LibriSpeech dev-clean as the reference's rnnt QSL reads it (flac converted to wav)::

    <root>/dev-clean-wav.json      [{"transcript", "files": [{"fname", "duration", "speed", ...}],
                                     "original_duration", ...}, ...]
    <root>/<fname>                 16 kHz mono 16-bit PCM wav (dev-clean-wav/<spk>/<chapter>/<id>.wav)

As the reference's ``Manifest(..., max_duration=15.0)``: utterances longer than 15 s are dropped
(2,513 remain); the file is the entry with speed 1; the transcript is normalised as its
english_cleaners do for LibriSpeech text (lower case; punctuation other than the labels' to
spaces; characters outside the labels dropped; runs of spaces collapsed; the number expansion
is not needed: LibriSpeech transcripts are words). Waveforms are read with the standard
library's ``wave`` and scaled to float32 in [-1, 1)."""

from __future__ import annotations

import json
import os
import re
import string
import wave
from pathlib import Path
from typing import List, Optional, Union

import numpy as np

from mlperf_harness.errors import CountError, HarnessError
from mlperf_harness.models.rnnt import LABELS, SAMPLE_RATE

MANIFEST = "dev-clean-wav.json"
MAX_DURATION = 15.0
_PUNCTUATION = "".join(c for c in string.punctuation if c not in "+&" and c not in LABELS)
_TABLE = str.maketrans(_PUNCTUATION, " " * len(_PUNCTUATION))


class DatasetError(HarnessError):
    """A malformed or incomplete LibriSpeech folder."""


class DatasetCountError(DatasetError, CountError):
    """--count larger than the dataset."""


def normalize(text: str) -> str:
    text = "".join(c for c in re.sub(r"\s", " ", text.lower().translate(_TABLE)) if c in LABELS)
    return re.sub(" +", " ", text).strip()


def read_wav(path: Path) -> np.ndarray:
    try:
        with wave.open(str(path), "rb") as handle:
            if (handle.getnchannels(), handle.getsampwidth(), handle.getframerate()) != (1, 2, SAMPLE_RATE):
                raise DatasetError(f"{path}: expected 16 kHz mono 16-bit PCM (the reference's flac->wav)")
            data = handle.readframes(handle.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise DatasetError(f"{path}: not a readable wav ({exc})") from None
    return (np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0)


class LibriSpeechDataset:
    """The first ``count`` utterances (of at most 15 s) of the manifest."""

    def __init__(self, root: Path, files: List[Path], transcripts: List[str]) -> None:
        self.root, self.files, self.transcripts = root, files, transcripts

    @classmethod
    def open(cls, root: Union[str, os.PathLike], count: Optional[int] = None,
             **_ignored) -> "LibriSpeechDataset":
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"dataset folder {root} does not exist")
        path = root / MANIFEST
        if not path.is_file():
            raise DatasetError(f"{path}: not found (a LibriSpeech folder holds the reference's manifest "
                               f"{MANIFEST} and the wavs it names)")
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
            files, transcripts = [], []
            for entry in entries:
                if float(entry["original_duration"]) > MAX_DURATION:
                    continue
                names = [f["fname"] for f in entry["files"] if float(f.get("speed", 1)) == 1.0]
                if not names:
                    raise KeyError("no file with speed 1")
                files.append(root / names[0])
                transcripts.append(normalize(entry["transcript"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path}: not a reference manifest ({type(exc).__name__}: {exc})") from None
        if count is not None:
            if count > len(files):
                raise DatasetCountError(f"--count {count} exceeds the {len(files)} utterances of at most "
                                        f"15 s in {path}")
            files, transcripts = files[:count], transcripts[:count]
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise DatasetError(f"{len(missing)} wav file(s) named in {path} are missing, first: {missing[0]}")
        return cls(root, files, transcripts)

    def __len__(self) -> int:
        return len(self.files)

    @property
    def sample_spec(self):
        """One second of audio: what the warm-up feeds."""
        return [((SAMPLE_RATE,), np.float32)]

    def load(self, index: int) -> np.ndarray:
        return read_wav(self.files[index])
