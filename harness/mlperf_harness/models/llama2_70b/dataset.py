"""OpenOrca as the reference's llama2-70b ``dataset.py`` reads it: one pickled pandas DataFrame
(``open_orca_gpt4_tokenized_llama.sampled_24576.pkl``) whose ``tok_input`` column holds each
prompt's token ids (Llama-2 chat template, under 1024 tokens) and whose ``output`` column holds
the reference answer the accuracy script compares with. The harness reads the first pickle in the
folder with that name, else the only ``*.pkl`` there. (A DataFrame pickle runs code when loaded,
as in the reference: give only a dataset you trust.)"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

import numpy as np

from mlperf_harness.errors import CountError, HarnessError

INDEX = "open_orca_gpt4_tokenized_llama.sampled_24576.pkl"
MAX_PROMPT_TOKENS = 1024


class DatasetCountError(CountError):
    """--count larger than the dataset."""


def find_pickle(root: Path) -> Path:
    if (root / INDEX).is_file():
        return root / INDEX
    pickles = sorted(root.glob("*.pkl"))
    if len(pickles) != 1:
        raise HarnessError(f"{root}: expected {INDEX} (the reference's processed OpenOrca DataFrame)")
    return pickles[0]


@dataclass
class OpenOrcaDataset:
    root: Path
    prompts: List[np.ndarray]
    targets: List[str]
    model_path: Optional[str]

    @classmethod
    def open(cls, root: Union[str, os.PathLike], count: Optional[int] = None, model_path: Optional[str] = None,
             **_ignored) -> "OpenOrcaDataset":
        import pandas as pd

        root = Path(root)
        if not root.is_dir():
            raise HarnessError(f"dataset folder {root} does not exist")
        path = find_pickle(root)
        try:
            frame = pd.read_pickle(path)
        except Exception as exc:  # any unpickling failure
            raise HarnessError(f"{path}: not a readable DataFrame pickle ({exc})") from None
        missing = {"tok_input", "output"} - set(getattr(frame, "columns", ()))
        if missing:
            raise HarnessError(f"{path}: no column(s) {', '.join(sorted(missing))}")
        if count is not None and count > len(frame):
            raise DatasetCountError(f"--count {count} exceeds the {len(frame)} samples in {path}")
        frame = frame.iloc[:count]
        prompts = [np.asarray(ids, dtype=np.int64) for ids in frame["tok_input"]]
        for n, ids in enumerate(prompts):
            if ids.ndim != 1 or not 0 < ids.size <= MAX_PROMPT_TOKENS:
                raise HarnessError(f"{path}: sample {n}'s tok_input has {ids.size} tokens (1..1024 expected)")
        return cls(root=root, prompts=prompts, targets=[str(t) for t in frame["output"]], model_path=model_path)

    def __len__(self) -> int:
        return len(self.prompts)

    def tokenizer(self):
        if getattr(self, "_tokenizer", None) is None:
            from mlperf_harness.llm.generation import load_tokenizer

            if not self.model_path:
                raise HarnessError("scoring llama2-70b needs the checkpoint's tokenizer (model_path)")
            self._tokenizer = load_tokenizer(self.model_path, 2048)
        return self._tokenizer

    def load(self, index: int) -> np.ndarray:
        return self.prompts[index]
