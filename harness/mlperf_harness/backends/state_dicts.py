"""The reference architectures, built for a published state_dict (weights without an architecture).

- resnet50-19c8e357.pth: torchvision's ResNet (models/resnet50/weights_pytorch.py); the layer counts, widths and class count
  are read from the state_dict's keys and shapes, so the tiny stand-in loads through the same code.
- bert model.pytorch: transformers' ``BertForQuestionAnswering(BertConfig(...))`` (models/bert/weights_pytorch.py); the
  sizes are read from the shapes, the rest is the reference's bert_config.json.
- rnnt DistributedDataParallel_1576581068.9962234-epoch-100.pt: the reference's RNN-T and greedy decoder
  (models/rnnt/weights_pytorch.py), sized from the shapes; the stand-in is the same class at a tiny size.

``load_state_dict_model(state_dict)`` picks the architecture from the keys and returns a module with the
harness's contract (the inputs in the harness's order; outputs named as the reference ONNX model's),
plus a one-line description. Every problem is a ValueError with one line.
"""

from __future__ import annotations

from typing import Mapping, Tuple


def unwrap(obj) -> dict:
    """The tensors of a checkpoint: a bare state_dict, or one under "state_dict"/"model", keys without
    DataParallel's "module." prefix."""
    for key in ("state_dict", "model"):
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f"not a state_dict (a {type(obj).__name__})")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}


def architecture(state_dict: Mapping) -> str:
    """"resnet", "bert" or "rnnt", from the keys."""
    if "conv1.weight" in state_dict and "fc.weight" in state_dict:
        return "resnet"
    if any(k.startswith(("bert.embeddings.", "embeddings.word_embeddings")) for k in state_dict):
        return "bert"
    if any(k.startswith("encoder.pre_rnn.") for k in state_dict):
        return "rnnt"
    sample = ", ".join(list(state_dict)[:3])
    raise ValueError(f"a state_dict of no architecture this harness knows (keys {sample}, ...): "
                     "expected torchvision's ResNet, BertForQuestionAnswering or the reference's RNN-T")


def load_state_dict_model(obj) -> Tuple[object, str]:
    """(module in eval mode on the CPU, description) for a state_dict of a known architecture."""
    state_dict = unwrap(obj)
    kind = architecture(state_dict)
    if kind == "resnet":
        from mlperf_harness.models.resnet50 import weights_pytorch as resnet

        return resnet.load(state_dict)
    if kind == "rnnt":
        from mlperf_harness.models.rnnt import weights_pytorch as rnnt

        return rnnt.load(state_dict)
    from mlperf_harness.models.bert import weights_pytorch as bert

    return bert.load(state_dict)
