"""The reference's RNN-T (``pytorch/model_separable_rnnt.py``, ``pytorch/rnn.py``) and its greedy
decoder (``pytorch/decoders.py`` ScriptGreedyDecoder), in plain torch, for the published checkpoint
``DistributedDataParallel_1576581068.9962234-epoch-100.pt`` (zenodo 3662521) and the stand-in (the same
classes at a tiny size).

- Encoder: ``pre_rnn`` LSTM (features 240 -> H), ``StackTime`` (factor 2: pairs of frames concatenated,
  zero-padded to even length, lengths ceil(len / 2)), ``post_rnn`` LSTM (2H -> H); out [B, T', H].
- Prediction: ``embed`` Embedding(labels, P) and ``dec_rnn`` LSTM (P -> P); the start symbol is a
  zero input vector from a zero state, as the reference's ``prediction(None, None)``.
- Joint: ``net`` = Linear(H + P, J), ReLU, Dropout (identity in eval), Linear(J, labels + 1); the
  encoder frame and the prediction output are concatenated in that order.

Module names as the reference's, so its state_dict keys load (``encoder.pre_rnn.lstm.weight_ih_l0``,
``prediction.dec_rnn.lstm...``, ``joint.net.0/3...``). ``migrate`` is the reference SUT's
``load_and_migrate_checkpoint``: its ``joint_net`` keys renamed ``joint.net`` and the featurizer's
buffers (``audio_preprocessor.featurizer.fb``/``window``: the harness computes the features) dropped;
then a strict load. The sizes (H, P, J, layer counts, stacking factor) are read from the shapes; the
real checkpoint is H 1024, 2 + 3 encoder layers, P 320 with 2 layers, J 512.

``GreedyRnnt`` is what the harness calls: (features [T, B, 240] float32, lengths [B] int64) -> label
ids int64 [B, U] padded with -1. The encoder runs on the batch; then, per sample, the reference's
greedy loop: at each encoder frame, predict from the last emitted label (and the state after it),
joint, argmax; a non-blank is emitted (and the prediction state advances) and the frame is tried
again, at most 30 symbols per frame; the blank (index = number of labels, 28) moves to the next
frame. The prediction output is reused until a label is emitted (the reference recomputes the same
values after a blank).
"""

from __future__ import annotations

from typing import List, Mapping, Optional, Tuple

import torch
from torch import Tensor, nn

MAX_SYMBOLS_PER_STEP = 30
IGNORED_KEYS = ("audio_preprocessor.featurizer.fb", "audio_preprocessor.featurizer.window")


class LstmDrop(nn.Module):
    """rnn.py's LstmDrop: a torch.nn.LSTM under ``.lstm`` (its dropout is inactive in eval)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)

    def forward(self, x: Tensor, h: Optional[Tuple[Tensor, Tensor]] = None):
        return self.lstm(x, h)


class StackTime(nn.Module):
    def __init__(self, factor: int) -> None:
        super().__init__()
        self.factor = int(factor)

    def forward(self, x: Tensor, x_lens: Tensor) -> Tuple[Tensor, Tensor]:
        r = x.transpose(0, 1)  # (B, T, H)
        pad = (-r.shape[1]) % self.factor
        r = torch.cat([r, r.new_zeros(r.shape[0], pad, r.shape[2])], 1)
        r = r.reshape(r.shape[0], r.shape[1] // self.factor, r.shape[2] * self.factor)
        return r.transpose(0, 1), torch.ceil(x_lens.float() / self.factor).int()


class Encoder(nn.Module):
    def __init__(self, in_features: int, hidden: int, pre_layers: int, post_layers: int, stack: int) -> None:
        super().__init__()
        self.pre_rnn = LstmDrop(in_features, hidden, pre_layers)
        self.stack_time = StackTime(stack)
        self.post_rnn = LstmDrop(stack * hidden, hidden, post_layers)

    def forward(self, x: Tensor, x_lens: Tensor) -> Tuple[Tensor, Tensor]:
        x, _ = self.pre_rnn(x, None)
        x, x_lens = self.stack_time(x, x_lens)
        x, _ = self.post_rnn(x, None)
        return x.transpose(0, 1), x_lens


class Prediction(nn.Module):
    def __init__(self, vocab_size: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.n_hidden = hidden
        self.embed = nn.Embedding(vocab_size - 1, hidden)
        self.dec_rnn = LstmDrop(hidden, hidden, layers)

    def forward(self, y: Optional[Tensor], state: Optional[Tuple[Tensor, Tensor]] = None):
        if y is None:  # the start symbol
            y = torch.zeros((1, 1, self.n_hidden), dtype=self.embed.weight.dtype, device=self.embed.weight.device)
        else:
            y = self.embed(y)
        g, hid = self.dec_rnn(y.transpose(0, 1), state)
        return g.transpose(0, 1), hid


class Joint(nn.Module):
    def __init__(self, vocab_size: int, pred_hidden: int, enc_hidden: int, joint_hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(pred_hidden + enc_hidden, joint_hidden), nn.ReLU(), nn.Dropout(0.0),
                                 nn.Linear(joint_hidden, vocab_size))

    def forward(self, f: Tensor, g: Tensor) -> Tensor:
        """f (B, T, H), g (B, U + 1, P) -> logits (B, T, U + 1, K + 1)."""
        b, t, h = f.shape
        u, p = g.shape[1], g.shape[2]
        inp = torch.cat([f.unsqueeze(2).expand(b, t, u, h), g.unsqueeze(1).expand(b, t, u, p)], dim=3)
        return self.net(inp)


class RNNT(nn.Module):
    def __init__(self, num_classes: int, in_features: int, enc_hidden: int, pre_layers: int, post_layers: int,
                 stack: int, pred_hidden: int, pred_layers: int, joint_hidden: int) -> None:
        super().__init__()
        self.encoder = Encoder(in_features, enc_hidden, pre_layers, post_layers, stack)
        self.prediction = Prediction(num_classes, pred_hidden, pred_layers)
        self.joint = Joint(num_classes, pred_hidden, enc_hidden, joint_hidden)


class GreedyRnnt(nn.Module):
    """The harness's model: the RNN-T and its greedy decoder (blank = the last class)."""

    def __init__(self, model: RNNT, max_symbols_per_step: int = MAX_SYMBOLS_PER_STEP) -> None:
        super().__init__()
        self.model = model
        self.blank = model.joint.net[-1].out_features - 1
        self.max_symbols = max_symbols_per_step

    def forward(self, features: Tensor, lengths: Tensor) -> Tensor:
        enc, enc_lens = self.model.encoder(features, lengths)
        sentences = [self._decode(enc[b, :int(enc_lens[b])]) for b in range(enc.shape[0])]
        out = torch.full((len(sentences), max([len(s) for s in sentences] + [0])), -1, dtype=torch.int64)
        for b, sentence in enumerate(sentences):
            out[b, :len(sentence)] = torch.tensor(sentence, dtype=torch.int64)
        return out

    def _decode(self, frames: Tensor) -> List[int]:
        prediction, joint = self.model.prediction, self.model.joint.net
        labels: List[int] = []
        g, hidden_prime = prediction(None, None)
        hidden: Optional[Tuple[Tensor, Tensor]] = None
        for f in frames:
            for _ in range(self.max_symbols):
                k = int(joint(torch.cat([f, g[0, 0]])).argmax())
                if k == self.blank:
                    break
                labels.append(k)
                hidden = hidden_prime
                g, hidden_prime = prediction(torch.tensor([[k]], dtype=torch.int64, device=f.device), hidden)
        return labels


def migrate(state_dict: Mapping) -> dict:
    """The reference SUT's load_and_migrate_checkpoint (its 'state_dict' level already taken off)."""
    return {k.replace("joint_net", "joint.net"): v for k, v in state_dict.items() if k not in IGNORED_KEYS}


def _layers(sd: Mapping, prefix: str) -> int:
    return sum(1 for k in sd if k.startswith(prefix + ".lstm.weight_ih_l"))


def build(sd: Mapping) -> RNNT:
    """An RNNT sized by the (migrated) state_dict's shapes; every problem is a ValueError with one line."""
    from mlperf_harness.models.rnnt import BLANK
    from mlperf_harness.models.rnnt.features import FEATURES

    try:
        pre = sd["encoder.pre_rnn.lstm.weight_ih_l0"]
        hidden, in_features = pre.shape[0] // 4, pre.shape[1]
        stack = sd["encoder.post_rnn.lstm.weight_ih_l0"].shape[1] // hidden
        embed = sd["prediction.embed.weight"]
        first, last = sd["joint.net.0.weight"], sd["joint.net.3.weight"]
    except KeyError as exc:
        raise ValueError(f"an RNN-T state_dict without {exc.args[0]!r}") from None
    if in_features != FEATURES:
        raise ValueError(f"an RNN-T taking {in_features} features per frame; the reference's features are "
                         f"{FEATURES} (80 mels x 3 spliced frames)")
    if last.shape[0] != BLANK + 1 or embed.shape[0] != BLANK:
        raise ValueError(f"an RNN-T over {last.shape[0]} classes; the reference's labels and blank are {BLANK + 1}")
    return RNNT(num_classes=last.shape[0], in_features=in_features, enc_hidden=hidden,
                pre_layers=_layers(sd, "encoder.pre_rnn"), post_layers=_layers(sd, "encoder.post_rnn"),
                stack=stack, pred_hidden=embed.shape[1], pred_layers=_layers(sd, "prediction.dec_rnn"),
                joint_hidden=first.shape[0])


def load(state_dict: Mapping) -> Tuple[GreedyRnnt, str]:
    """(GreedyRnnt in eval mode on the CPU, description) for an RNN-T state_dict."""
    sd = migrate(state_dict)
    model = build(sd)
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(sd)), sorted(set(sd) - set(expected))
    wrong = [k for k in expected if k in sd and tuple(sd[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        what = [f"{name} {', '.join(keys[:3])}" for name, keys in
                (("missing", missing), ("unexpected", unexpected), ("mis-shaped", wrong)) if keys]
        raise ValueError(f"not the reference's RNN-T: {'; '.join(what)}")
    model.load_state_dict(sd, strict=True)
    enc = model.encoder
    description = (f"RNN-T state_dict (encoder {enc.pre_rnn.lstm.num_layers}+{enc.post_rnn.lstm.num_layers} x "
                   f"{enc.pre_rnn.lstm.hidden_size}, prediction {model.prediction.dec_rnn.lstm.num_layers} x "
                   f"{model.prediction.n_hidden}, greedy decoding)")
    return GreedyRnnt(model).eval(), description
