"""CNN/DailyMail as the reference's gpt-j ``dataset.py`` reads it: ``cnn_eval.json``, a list of
``{"instruction", "input", "output"}``; each sample's prompt is the Alpaca template with the
instruction and the article, tokenized with the checkpoint's tokenizer (slow GPT-2 BPE, truncated
to 1919 tokens); ``output`` is the reference summary the accuracy script compares with."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

import numpy as np

from mlperf_harness.errors import CountError, HarnessError

INDEX = "cnn_eval.json"
MAX_PROMPT_TOKENS = 1919
PROMPT_INPUT = ("Below is an instruction that describes a task, paired with an input that provides further "
                "context. Write a response that appropriately completes the request.\n\n"
                "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:")


class DatasetCountError(CountError):
    """--count larger than the dataset."""


def read_examples(root: Path) -> List[dict]:
    path = root / INDEX
    try:
        examples = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"{path}: not found (the gptj dataset is the reference's cnn_eval.json)") from None
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(examples, list) or not examples or not all(
            isinstance(e, dict) and {"instruction", "input", "output"} <= set(e) for e in examples):
        raise HarnessError(f"{path}: expected a list of {{instruction, input, output}} objects")
    return examples


@dataclass
class CnnDailyMailDataset:
    root: Path
    prompts: List[str]
    targets: List[str]
    model_path: Optional[str]

    @classmethod
    def open(cls, root: Union[str, os.PathLike], count: Optional[int] = None, model_path: Optional[str] = None,
             **_ignored) -> "CnnDailyMailDataset":
        root = Path(root)
        examples = read_examples(root)
        if count is not None and count > len(examples):
            raise DatasetCountError(f"--count {count} exceeds the {len(examples)} samples in {root / INDEX}")
        examples = examples[:count]
        return cls(root=root, prompts=[PROMPT_INPUT.format_map(e) for e in examples],
                   targets=[str(e["output"]) for e in examples], model_path=model_path)

    def __len__(self) -> int:
        return len(self.prompts)

    def tokenizer(self):
        if getattr(self, "_tokenizer", None) is None:
            from mlperf_harness.llm.generation import load_tokenizer

            if not self.model_path:
                raise HarnessError("the gptj dataset needs the checkpoint's tokenizer (model_path)")
            self._tokenizer = load_tokenizer(self.model_path, MAX_PROMPT_TOKENS)
        return self._tokenizer

    def load(self, index: int) -> np.ndarray:
        """Sample ``index``'s prompt as token ids (int64)."""
        encoded = self.tokenizer()(self.prompts[index], truncation=True, max_length=MAX_PROMPT_TOKENS)
        return np.asarray(encoded["input_ids"], dtype=np.int64)
