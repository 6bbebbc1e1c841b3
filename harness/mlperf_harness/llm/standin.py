"""Tiny generative checkpoints (host only): 1-layer models of the reference's transformers classes
whose greedy and beam-search output is a fixed chain of tokens.

The trick: the embedding is the identity (hidden size = vocabulary size, so the hidden state is the
token's one-hot vector), every block's output projections (attention and MLP) are zero, so each
block passes its input through unchanged, and the final norm keeps the one-hot's largest entry where
it was; ``lm_head`` is then a scaled map "token t -> next(t)", so the next token depends on the
current token alone, by a margin (tens of logits) no beam can overturn. ``next`` is a chain of
distinct words; end-of-sequence is forbidden (gptj, which always generates max_new_tokens) or ends
the chain (llama2). The dataset's expected outputs are the chains' decoded text, so ROUGE is 100."""

from __future__ import annotations

from typing import Dict

import numpy as np

SCALE = 4.0  # logit per unit of the normalised one-hot (about sqrt(vocab) = 20): margins of ~80


def chain_head(vocab: int, next_token: Dict[int, int], default: int, forbid=()) -> np.ndarray:
    """lm_head weight [vocab, hidden=vocab]: column t is SCALE at row next_token.get(t, default)."""
    head = np.zeros((vocab, vocab), np.float32)
    for token in range(vocab):
        head[next_token.get(token, default), token] = SCALE
    for token in forbid:
        head[token, :] = 0.0
    return head


def fill(model, overrides: Dict[str, np.ndarray], zero_suffixes, seed: int) -> None:
    """Set ``model``'s parameters: ``overrides`` by name, zeros for names ending in ``zero_suffixes``,
    norms' weights 1 and biases 0, seeded noise elsewhere."""
    import torch

    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in overrides:
                value = overrides[name]
            elif name.endswith(tuple(zero_suffixes)):
                value = np.zeros(param.shape, np.float32)
            elif "ln" in name or "norm" in name:
                value = np.ones(param.shape, np.float32) if name.endswith("weight") else np.zeros(param.shape)
            else:
                value = rng.normal(0.0, 0.02, tuple(param.shape))
            param.copy_(torch.from_numpy(np.asarray(value, np.float32)))


def save(model, tokenizer, folder) -> None:
    """The checkpoint folder ``from_pretrained`` reads: config, safetensors weights, tokenizer."""
    from pathlib import Path

    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    for path in Path(folder).iterdir():
        path.chmod(0o644)  # readable by any container user (safetensors writes 0600)
