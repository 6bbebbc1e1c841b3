"""Generative language models (gptj, llama2-70b): what the reference LLM harnesses share.

- generation.py: the Hugging Face causal LM and tokenizer, loaded from a checkpoint folder as the
  reference does (one copy in memory), and ``generate`` with the reference's generation rules;
- sut.py: the token-streaming system under test (responses with ``n_tokens``; in Server the first
  token goes to ``lg.FirstTokenComplete`` from a streamer, for models with LoadGen token latencies);
- rouge.py: the ROUGE scoring of the reference's evaluation scripts, with no download;
- run.py: one LoadGen test of such a model (what loadgen_child runs for it);
- standin.py: tiny checkpoints through the same transformers classes (host only).

A model folder declares its rules in a :class:`LLMRules` (its ``CODE.llm``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional


@dataclass(frozen=True)
class LLMRules:
    """How the reference runs one generative model."""

    model_class: str  # transformers class the checkpoint is loaded into
    generation: Dict[str, object] = field(default_factory=dict)  # generate() keyword arguments
    # Offline batches are left-padded to this many tokens and the response is what follows
    # (llama2's 1024); None: one sample per generate call, its response what follows its prompt.
    pad_to: Optional[int] = None
    # LoadGen token latencies from the SUT (llama2: use_token_latencies): the Server scenario
    # reports each sample's first token through lg.FirstTokenComplete from a streamer. False:
    # LoadGen infers them (gptj: infer_token_latencies).
    stream_first_token: bool = False
    # The beam count comes from the `_beam_size.N` variation (gptj's GPTJ_BEAM_SIZE, default 4).
    beam_setting: bool = False
    default_beams: int = 1
    tokenizer_max_length: int = 2048
