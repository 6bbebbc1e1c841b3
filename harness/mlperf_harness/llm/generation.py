"""A Hugging Face causal LM loaded from a checkpoint folder, generating as the reference does.

The folder is what ``from_pretrained`` reads (config.json, the weights, the tokenizer files): the
real checkpoint mounted with ``--model DIR`` or the baked stand-in. Loading never downloads
(``local_files_only``; the container has no network anyway) and holds one copy of the weights
(``low_cpu_mem_usage``). torch and transformers are imported here only, when a run starts."""

from __future__ import annotations

import os
from typing import Callable, List, Optional, Sequence

import numpy as np

from mlperf_harness.errors import HarnessError
from mlperf_harness.llm import LLMRules

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_tokenizer(path: str, max_length: int = 2048):
    """The checkpoint's tokenizer as the reference loads it: the slow (Python / sentencepiece)
    tokenizer, left padding, pad = eos."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, model_max_length=max_length, padding_side="left",
                                                  use_fast=False, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot load the tokenizer from {path}: {str(exc).splitlines()[0]}") from None
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def first_token_streamer(on_first: Callable[[int], None]):
    """A transformers streamer (batch 1) that hands the first generated token to ``on_first`` as soon
    as it exists and keeps every generated token (``.tokens``), as the reference's FirstTokenStreamer."""
    from transformers.generation.streamers import BaseStreamer

    class FirstTokenStreamer(BaseStreamer):
        def __init__(self):
            self.prompt = True  # generate() streams the prompt first
            self.tokens: List[int] = []

        def put(self, value):
            if self.prompt:
                self.prompt = False
                return
            token = int(value.reshape(-1)[0])
            if not self.tokens:
                on_first(token)
            self.tokens.append(token)

        def end(self):
            pass

    return FirstTokenStreamer()


class CausalLM:
    """The model and its generation rules; ``generate`` is thread-safe for one caller at a time."""

    def __init__(self, path: str, rules: LLMRules, device: str = "cpu", precision: str = "fp32",
                 threads: Optional[int] = None, beams: Optional[int] = None) -> None:
        import torch
        import transformers

        if not os.path.isdir(path):
            raise HarnessError(f"{path}: not a checkpoint folder (config.json, weights, tokenizer)")
        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.device = torch.device("cpu" if device == "cpu" else "cuda")
        if device != "cpu" and not torch.cuda.is_available():
            raise HarnessError(f"--device {device}: this torch build ({torch.__version__}) sees no GPU")
        dtype = {"fp32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[precision]
        cls = getattr(transformers, rules.model_class)
        try:
            model = cls.from_pretrained(path, dtype=dtype, low_cpu_mem_usage=True, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise HarnessError(f"cannot load {rules.model_class} from {path}: "
                               f"{str(exc).splitlines()[0]}") from None
        self.model = model.to(self.device).eval()
        self.tokenizer = load_tokenizer(path, rules.tokenizer_max_length)
        self.rules = rules
        self.kwargs = dict(rules.generation)
        if rules.beam_setting:
            self.kwargs["num_beams"] = beams or rules.default_beams
        self.eos = self.tokenizer.eos_token_id
        self.pad = self.tokenizer.pad_token_id
        self.kind = f"{rules.model_class}, {dtype}".replace("torch.", "")

    def describe(self) -> str:
        import torch

        beams = self.kwargs.get("num_beams", 1)
        return (f"pytorch {torch.__version__} (transformers {self.kind}), device: {self.device.type}, "
                f"beams: {beams}, new tokens: {self.kwargs.get('min_new_tokens', 1)}.."
                f"{self.kwargs.get('max_new_tokens')}")

    def _trim(self, out: np.ndarray) -> np.ndarray:
        """The response: the generated ids up to and including the first end-of-sequence token (the
        pad tokens a batch adds after it are not part of the answer; ``n_tokens`` counts what is kept)."""
        ends = np.flatnonzero(out == self.eos)
        return out[: ends[0] + 1] if ends.size else out

    def generate(self, prompts: Sequence[np.ndarray],
                 on_first: Optional[Callable[[int], None]] = None) -> List[np.ndarray]:
        """Token ids of ``prompts`` -> the generated ids of each (int64). ``on_first`` (one prompt only):
        called with the first generated token as soon as it exists."""
        torch = self.torch
        pad_to = self.rules.pad_to
        if pad_to is None or on_first is not None:
            if len(prompts) != 1:
                raise ValueError(f"{self.rules.model_class} runs one sample per generate call")
            ids = torch.from_numpy(np.asarray(prompts[0], dtype=np.int64)).reshape(1, -1)
            mask = torch.ones_like(ids)
            start = ids.shape[1]
        else:
            # The reference's Offline batch (llama2): each prompt left-padded to pad_to tokens; its
            # Server path (streaming) generates from the bare prompt.
            ids = torch.full((len(prompts), pad_to), self.pad, dtype=torch.int64)
            mask = torch.zeros_like(ids)
            for row, prompt in enumerate(prompts):
                if len(prompt) > pad_to:
                    raise HarnessError(f"a prompt of {len(prompt)} tokens exceeds {pad_to}")
                ids[row, pad_to - len(prompt):] = torch.from_numpy(np.asarray(prompt, dtype=np.int64))
                mask[row, pad_to - len(prompt):] = 1
            start = pad_to
        streamer = None
        if on_first is not None:
            if len(prompts) != 1:
                raise ValueError("first-token streaming takes one sample at a time")
            streamer = first_token_streamer(on_first)
        with torch.inference_mode():
            out = self.model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                      pad_token_id=self.pad, streamer=streamer, **self.kwargs)
        if streamer is not None:
            return [self._trim(np.asarray(streamer.tokens, dtype=np.int64))]
        out = out[:, start:].cpu().numpy().astype(np.int64)
        return [self._trim(row) for row in out]
