"""BERT-for-SQuAD state_dicts (the reference's model.pytorch) -> transformers' BertForQuestionAnswering,
fed as the harness feeds bert (input_ids, input_mask, segment_ids), returning (start, end) logits.

As the reference (language/bert/pytorch_SUT.py): ``BertForQuestionAnswering(BertConfig(...))`` with
language/bert/bert_config.json's values, then ``load_state_dict(..., strict=False)``. The sizes (vocabulary,
hidden width, layers, intermediate width, positions, token types) are read from the state_dict's shapes,
so bert-large's weights get exactly the reference config and a tiny stand-in loads through the same code;
the attention heads, which no shape carries, are hidden_size / 64 as in every published BERT config
(bert-large: 1024 / 64 = 16). Keys the model lacks or the file has extra are reported; a state_dict that
leaves any weight of the model unset is refused (strict=False only tolerates extra keys and buffers).
"""

from __future__ import annotations

import os
import re
from typing import Dict, Mapping, Tuple

import torch
from torch import nn

# language/bert/bert_config.json (bert-large, uncased, SQuAD v1.1)
REFERENCE_CONFIG = {
    "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 4096,
    "max_position_embeddings": 512, "num_attention_heads": 16, "num_hidden_layers": 24,
    "type_vocab_size": 2, "vocab_size": 30522,
}
HEAD_SIZE = 64


def _transformers():
    # transformers imports TensorFlow when it finds it (seconds, and noise); this harness runs torch only.
    os.environ.setdefault("USE_TF", "0")
    os.environ.setdefault("USE_FLAX", "0")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    try:
        import transformers
        from transformers import BertConfig, BertForQuestionAnswering
    except ImportError as exc:
        raise ValueError(f"loading a BERT state_dict needs transformers ({exc})") from None
    transformers.logging.set_verbosity_error()
    return BertConfig, BertForQuestionAnswering


def config(state_dict: Mapping) -> Dict:
    """The reference config with the sizes the state_dict's shapes give."""
    def shape(key):
        for prefix in ("bert.", ""):
            if prefix + key in state_dict:
                return tuple(state_dict[prefix + key].shape)
        raise ValueError(f"BERT state_dict has no {key}")

    vocab, hidden = shape("embeddings.word_embeddings.weight")
    layers = {int(m.group(1)) for k in state_dict if (m := re.search(r"encoder\.layer\.(\d+)\.", k))}
    if not layers or layers != set(range(len(layers))):
        raise ValueError("BERT state_dict: no encoder layers 0..n-1")
    if hidden % HEAD_SIZE:
        raise ValueError(f"BERT state_dict: hidden size {hidden} is not a multiple of the head size {HEAD_SIZE}")
    return dict(REFERENCE_CONFIG, vocab_size=vocab, hidden_size=hidden, num_hidden_layers=len(layers),
                num_attention_heads=hidden // HEAD_SIZE,
                intermediate_size=shape("encoder.layer.0.intermediate.dense.weight")[0],
                max_position_embeddings=shape("embeddings.position_embeddings.weight")[0],
                type_vocab_size=shape("embeddings.token_type_embeddings.weight")[0])


class SquadBert(nn.Module):
    """BertForQuestionAnswering behind the harness's bert contract."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, input_mask: torch.Tensor,
                segment_ids: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out = self.model(input_ids=input_ids, attention_mask=input_mask, token_type_ids=segment_ids,
                         return_dict=True)
        return out.start_logits, out.end_logits


def load(state_dict: Mapping) -> Tuple[nn.Module, str]:
    BertConfig, BertForQuestionAnswering = _transformers()
    cfg = config(state_dict)
    model = BertForQuestionAnswering(BertConfig(**cfg))
    if not any(k.startswith("bert.") for k in state_dict):  # a bare BertModel prefix-less dump
        state_dict = {(k if k.startswith("qa_outputs.") else "bert." + k): v for k, v in state_dict.items()}
    try:
        result = model.load_state_dict(dict(state_dict), strict=False)
    except RuntimeError as exc:  # shapes that do not fit: torch's message is one line per tensor
        lines = [l.strip() for l in str(exc).splitlines() if l.strip()]
        first = next((l for l in lines if l.startswith("size mismatch")), lines[-1] if lines else "")
        raise ValueError(f"BERT state_dict does not fit its config: {first}") from None
    buffers = {name for name, _ in model.named_buffers()}
    missing = [k for k in result.missing_keys if k not in buffers]
    if missing:
        raise ValueError(f"BERT state_dict leaves {len(missing)} weight(s) unset: {', '.join(missing[:4])}")
    size = "bert-large" if all(cfg[k] == REFERENCE_CONFIG[k] for k in REFERENCE_CONFIG) else \
        f"hidden {cfg['hidden_size']}, {cfg['num_hidden_layers']} layers, vocabulary {cfg['vocab_size']}"
    extra = f"; ignored {len(result.unexpected_keys)} unexpected key(s): " \
            f"{', '.join(result.unexpected_keys[:4])}" if result.unexpected_keys else ""
    return SquadBert(model).eval(), f"transformers BertForQuestionAnswering ({size}){extra}"
