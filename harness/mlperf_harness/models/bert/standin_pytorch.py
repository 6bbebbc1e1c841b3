"""The bert stand-in for the pytorch backend as a state_dict: transformers' BertForQuestionAnswering at a
tiny BertConfig, loaded by the same code as the reference's model.pytorch (mlperf_harness.models.bert.weights_pytorch),
with standin.py's generated vocabulary and SQuAD dataset (so the same known exact match and F1).

Model: hidden 64 (one attention head), 2 layers, intermediate 128, 512 positions, 2 token types, the
generated vocabulary. standin.py's dataset is built so that answering "from the context's start marker to
its end marker" gives the known scores; this BERT does exactly that:
- word embeddings: seeded noise in dims 2..63; start markers add ``MARK`` to dim 0, end markers to dim
  1, both-markers to both; position and token-type embeddings are noise in dims 2..63 only;
- each layer's attention output and feed-forward output projections are zero, so a layer is the
  LayerNorm of its input (attention, query/key/value included, still runs, and adds nothing);
- ``qa_outputs`` reads dim 0 as the start logit and dim 1 as the end logit.
After LayerNorm a marker's dim scores about 7 and every other token's within about +-1, so the
post-processing (n-best, answers up to 30 tokens) picks the marker span in every window holding it.

    python -m mlperf_harness.models.bert.standin_pytorch OUT_DIR [--questions N] [--exact F] [--seed S]
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from pathlib import Path
from typing import Dict

import numpy as np

from mlperf_harness.models.bert import standin as _dataset
from mlperf_harness.models.bert import weights_pytorch as _loader
from mlperf_harness.standin_cli import main as standin_main, save_state_dict

VERSION = 1
MODEL_FILES = {"pytorch": "model.pytorch"}
HIDDEN, LAYERS, INTERMEDIATE, POSITIONS = 64, 2, 128, 512
MARK = 16.0


def tiny_config(vocab_size: int) -> Dict:
    return dict(_loader.REFERENCE_CONFIG, vocab_size=vocab_size, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
                num_attention_heads=HIDDEN // _loader.HEAD_SIZE, intermediate_size=INTERMEDIATE,
                max_position_embeddings=POSITIONS)


def state_dict(seed: int = 0) -> "OrderedDict":
    import torch

    vocab, _, markers = _dataset.make_vocab(seed)
    BertConfig, BertForQuestionAnswering = _loader._transformers()
    model = BertForQuestionAnswering(BertConfig(**tiny_config(len(vocab))))
    rng = np.random.default_rng([seed, 0xBE575])
    buffers = {name for name, _ in model.named_buffers()}
    out = OrderedDict()
    for name, value in model.state_dict().items():
        if name in buffers:
            continue  # position_ids / token_type_ids: the model's own, not part of a checkpoint
        shape = tuple(value.shape)
        if "LayerNorm.weight" in name:
            array = np.ones(shape)
        elif "LayerNorm.bias" in name or name.endswith(".bias"):
            array = rng.normal(0.0, 0.02, shape) if "LayerNorm" not in name else np.zeros(shape)
        else:
            array = rng.normal(0.0, 0.02, shape)
        out[name] = np.asarray(array, np.float32)
    word = rng.normal(0.0, 1.0, (len(vocab), HIDDEN)).astype(np.float32)
    word[:, :2] = 0.0
    index = {t: i for i, t in enumerate(vocab)}
    for kind, dims in (("start", (0,)), ("end", (1,)), ("both", (0, 1))):
        for token in markers[kind]:
            for d in dims:
                word[index[token], d] = MARK
    out["bert.embeddings.word_embeddings.weight"] = word
    for key in ("bert.embeddings.position_embeddings.weight", "bert.embeddings.token_type_embeddings.weight"):
        out[key][:, :2] = 0.0
    for layer in range(LAYERS):
        for proj in ("attention.output.dense", "output.dense"):
            for part in ("weight", "bias"):
                key = f"bert.encoder.layer.{layer}.{proj}.{part}"
                out[key] = np.zeros_like(out[key])
    qa = np.zeros((2, HIDDEN), np.float32)
    qa[0, 0] = qa[1, 1] = 1.0
    out["qa_outputs.weight"], out["qa_outputs.bias"] = qa, np.zeros(2, np.float32)
    return OrderedDict((k, torch.from_numpy(np.ascontiguousarray(v))) for k, v in out.items())


def export_model(path, backend: str = "pytorch", seed: int = 0) -> Path:
    return save_state_dict(path, state_dict(seed))


def generate(out_dir: Path, n_questions: int = 60, exact_fraction: float = 0.75, seed: int = 0,
             backend: str = "pytorch") -> Dict:
    """standin.py's dataset and expected.json, with model/model.pytorch this state_dict."""
    if backend not in MODEL_FILES:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(MODEL_FILES)}")
    info = _dataset.generate(out_dir, n_questions, exact_fraction, seed, backend="pytorch")
    export_model(info["model_path"], backend, seed)
    return dict(info, generator="bert_pytorch", state_dict_version=VERSION)


def main(argv=None) -> int:
    return standin_main("python -m mlperf_harness.models.bert.standin_pytorch",
                        "Write the bert state_dict stand-in (pytorch) and its SQuAD dataset.", MODEL_FILES,
                        ("--questions", 60, "synthetic questions"), ("--exact", 0.75, "fraction answered exactly"),
                        generate, argv)


if __name__ == "__main__":
    sys.exit(main())
