"""COCO-2014 captions as the reference's ``coco.py`` reads them: ``captions/captions.tsv`` (id,
image_id, caption, height, width, file_name, coco_url; one caption per sample, in QSL order) and
the one fixed latent ``latents/latents.pt`` (a torch tensor [1, 4, H/8, W/8], float32) every
sample starts from. Each sample is its caption tokenized by both of the pipeline's tokenizers
(padded to their model_max_length, 77, truncated), as the reference's QSL holds it. The FID
reference statistics (``val2014.npz``: mu, sigma) sit in the folder too (--dataset_args statistics=)."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np

from mlperf_harness.errors import CountError, HarnessError

INDEX = "captions/captions.tsv"
LATENTS = "latents/latents.pt"
STATISTICS = "val2014.npz"
COLUMNS = ("id", "image_id", "caption", "height", "width", "file_name", "coco_url")


class DatasetCountError(CountError):
    """--count larger than the dataset."""


def read_captions(path: Path) -> List[str]:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
    except FileNotFoundError:
        raise HarnessError(f"{path}: not found (the sdxl dataset is the reference's coco-2014 folder)") from None
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise HarnessError(f"{path}: not a readable captions.tsv ({exc})") from None
    if not rows or "caption" not in rows[0]:
        raise HarnessError(f"{path}: expected a tab-separated table with a caption column ({', '.join(COLUMNS)})")
    return [row["caption"] or "" for row in rows]


def load_latents(path: Path):
    """latents.pt: a torch tensor [1, 4, h, w] (as the reference's tools/latent.py saves it)."""
    import torch

    try:
        latents = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise HarnessError(f"{path}: not found (the reference's fixed latents, latents.pt)") from None
    except Exception as exc:
        raise HarnessError(f"{path}: not a saved torch tensor ({str(exc).splitlines()[0]})") from None
    if not isinstance(latents, torch.Tensor) or latents.dim() != 4 or latents.shape[0] != 1:
        raise HarnessError(f"{path}: expected a tensor [1, C, h, w], got {getattr(latents, 'shape', type(latents))}")
    return latents.float()


def pipeline_folder(model_path: Union[str, os.PathLike]) -> Path:
    """The diffusers pipeline inside a checkpoint folder: the reference's layout (checkpoint_pipe/, with
    the scheduler in checkpoint_scheduler/scheduler/) or a plain pipeline folder (model_index.json)."""
    root = Path(model_path)
    return root / "checkpoint_pipe" if (root / "checkpoint_pipe").is_dir() else root


@dataclass
class CocoCaptions:
    root: Path
    captions: List[str]
    model_path: Optional[str]
    statistics: Path
    _tokenizers: Optional[tuple] = field(default=None, repr=False)

    @classmethod
    def open(cls, root: Union[str, os.PathLike], count: Optional[int] = None, model_path: Optional[str] = None,
             statistics: Optional[str] = None, **_ignored) -> "CocoCaptions":
        root = Path(root)
        captions = read_captions(root / INDEX)
        if count is not None and count > len(captions):
            raise DatasetCountError(f"--count {count} exceeds the {len(captions)} captions in {root / INDEX}")
        if not (root / LATENTS).is_file():
            raise HarnessError(f"{root / LATENTS}: not found (the reference's fixed latents)")
        return cls(root=root, captions=captions[:count], model_path=model_path,
                   statistics=Path(statistics) if statistics else root / STATISTICS)

    def __len__(self) -> int:
        return len(self.captions)

    @property
    def targets(self) -> List[str]:
        return self.captions

    def latents(self):
        return load_latents(self.root / LATENTS)

    def tokenizers(self) -> tuple:
        if self._tokenizers is None:
            from transformers import CLIPTokenizer

            if not self.model_path:
                raise HarnessError("the sdxl dataset needs the pipeline's tokenizers (model_path)")
            folder = pipeline_folder(self.model_path)
            try:
                self._tokenizers = tuple(CLIPTokenizer.from_pretrained(str(folder), subfolder=name,
                                                                       local_files_only=True)
                                         for name in ("tokenizer", "tokenizer_2"))
            except (OSError, ValueError) as exc:
                raise HarnessError(f"cannot load the tokenizers from {folder}: {str(exc).splitlines()[0]}") from None
        return self._tokenizers

    def load(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """Sample ``index``: its caption's token ids for tokenizer and tokenizer_2 (int64 [77] each)."""
        return tuple(tokenize(tokenizer, self.captions[index]) for tokenizer in self.tokenizers())


def tokenize(tokenizer, text: str) -> np.ndarray:
    ids = tokenizer(text, padding="max_length", max_length=tokenizer.model_max_length, truncation=True)["input_ids"]
    return np.asarray(ids, dtype=np.int64)
