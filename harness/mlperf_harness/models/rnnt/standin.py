"""An rnnt stand-in: a "tone alphabet" LibriSpeech folder and a tiny RNN-T of the reference's class
(weights_pytorch.RNNT, the published checkpoint's format and key names) that transcribes it exactly.

Audio (16 kHz mono 16-bit wavs in the reference's dev-clean-wav layout, plus its manifest
``dev-clean-wav.json``): the i-th character of a phrase is a 90 ms sine of tone class
``2 * label + i % 2`` (56 classes, 250 Hz + 135 Hz steps), 80 ms apart, over seeded white noise (which
keeps every mel band's per-utterance normalisation well defined). The parity in the tone lets the
decoder tell a repeated letter from a held one.

Model (sizes: encoder 1+1 layers of 64, prediction 1 layer of 1, joint 56), every LSTM memoryless
(forget gate shut, input/output gates open, so h = tanh(tanh(W x + b))):
- encoder: pre_rnn + post_rnn form a two-layer frame classifier, fitted at generation on these phrases'
  features (seeded; a fixed number of full-batch Adam steps on a masked logistic loss): post-rnn unit k
  is +0.76 on encoder frames holding tone class k and -0.76 elsewhere (frames only partly covered by a
  tone may go either way for that tone alone);
- prediction: its one unit flips sign at every step (+ after the start symbol): the parity of the
  number of labels emitted so far;
- joint: hidden unit k = relu(10 f_k +- 10 g - 10) is about 5 when tone k is heard and its parity
  matches the labels emitted so far, else 0; the label's logit is the sum of its two units, the blank's
  is 1. So each tone emits its character once (the parity then differs), silence emits blank.
Generation decodes every utterance through the real path (LibriSpeechDataset, features, GreedyRnnt)
and checks the transcripts, so the expected WER is computed, not assumed.

``swap`` replaces the first word of that fraction of the manifest transcripts (not of the audio) with
"xyzzy": the accuracy script's word Levenshtein counts one substitution each, WER = swapped / words.

    python -m mlperf_harness.models.rnnt.standin OUT_DIR [--utterances N] [--swap F]
"""

from __future__ import annotations

import functools
import json
import math
import sys
import wave
from pathlib import Path
from typing import Dict, List

import numpy as np

from mlperf_harness.models.rnnt import BLANK, LABELS, SAMPLE_RATE
from mlperf_harness.models.rnnt.dataset import MANIFEST
from mlperf_harness.models.rnnt.features import FEATURES, FILTERBANK, HOP_LENGTH, WIN_LENGTH, extract
from mlperf_harness.standin_cli import main as standin_main, prepare, save_state_dict, write_expected

VERSION = 2
TONE_S, GAP_S, EDGE_S, RAMP_S = 0.09, 0.08, 0.15, 0.01
AMPLITUDE, NOISE = 0.3, 0.01
CLASSES = 2 * len(LABELS)
FREQUENCIES = 250.0 + 135.0 * np.arange(CLASSES)
HIDDEN, FIT_STEPS, OPEN = 64, 200, 30.0
MODEL_FILES = {"pytorch": "DistributedDataParallel_1576581068.9962234-epoch-100.pt"}
PHRASES = ("the quick brown fox", "jumps over the lazy dog", "it's a jolly good hex", "we all queue here",
           "pack my box with five dozen liquor jugs", "hello world", "don't stop", "mississippi")
# one encoder frame: 2 stacked frames of 3 spliced STFT frames (hop 160, window 320) -> its audio span
ENC_HOP, ENC_SPAN = 6 * HOP_LENGTH, 5 * HOP_LENGTH + WIN_LENGTH


def tones(phrase: int):
    """Phrase ``phrase``'s waveform (int16) and its tones as (class, first sample, end sample)."""
    rate = SAMPLE_RATE
    tone, gap, edge, ramp = (int(s * rate) for s in (TONE_S, GAP_S, EDGE_S, RAMP_S))
    text = PHRASES[phrase]
    total = 2 * edge + len(text) * tone + (len(text) - 1) * gap
    wave_ = np.random.default_rng(1000 + phrase).normal(0.0, NOISE, total)
    envelope = np.ones(tone)
    envelope[:ramp] = envelope[-ramp:][::-1] = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    t = np.arange(tone) / rate
    spans = []
    for i, char in enumerate(text):
        k, start = 2 * LABELS.index(char) + i % 2, edge + i * (tone + gap)
        wave_[start:start + tone] += AMPLITUDE * envelope * np.sin(2 * np.pi * FREQUENCIES[k] * t)
        spans.append((k, start, start + tone))
    return np.round(np.clip(wave_, -1, 1) * 32767).astype("<i2"), spans


def frame_targets(spans, frames: int):
    """Per encoder frame: target 1 for a tone covering at least half its span, 0 for the others,
    and a mask leaving out a tone that covers less than half (but some) of it."""
    target, mask = np.zeros((frames, CLASSES)), np.ones((frames, CLASSES))
    for t in range(frames):
        lo = ENC_HOP * t - WIN_LENGTH // 2
        for k, start, end in spans:
            cover = max(0, min(end, lo + ENC_SPAN) - max(start, lo)) / ENC_SPAN
            if cover >= 0.5:
                target[t, k] = 1.0
            elif cover > 0:
                mask[t, k] = 0.0
    return target, mask


@functools.lru_cache(maxsize=1)
def fit_encoder():
    """The frame classifier's weights (W1 [64, 240], b1, W2 [56, 128], b2), fitted on every phrase (once
    per process: the fit does not depend on the generator's arguments)."""
    import torch

    pre, targets, masks = [], [], []
    for phrase in range(len(PHRASES)):
        samples, spans = tones(phrase)
        feats = extract(samples.astype(np.float32) / 32768.0).T  # [frames, 240]
        frames = -(-feats.shape[0] // 2)
        target, mask = frame_targets(spans, frames)
        pre.append(torch.from_numpy(feats))
        targets.append(target)
        masks.append(mask)
    y, m = (torch.from_numpy(np.concatenate(a)).float() for a in (targets, masks))
    gen = torch.Generator().manual_seed(0)
    w1 = (torch.randn(HIDDEN, FEATURES, generator=gen) / math.sqrt(FEATURES)).requires_grad_()
    b1 = torch.zeros(HIDDEN, requires_grad=True)
    w2 = (torch.randn(CLASSES, 2 * HIDDEN, generator=gen) / math.sqrt(2 * HIDDEN)).requires_grad_()
    b2 = torch.full((CLASSES,), -2.0, requires_grad=True)

    def logits():
        stacked = []
        for x in pre:  # pre_rnn, then StackTime's zero padding and pairing
            h = torch.tanh(torch.tanh(x @ w1.T + b1))
            h = torch.cat([h, h.new_zeros(h.shape[0] % 2, HIDDEN)])
            stacked.append(h.reshape(-1, 2 * HIDDEN))
        return torch.cat(stacked) @ w2.T + b2

    optimizer = torch.optim.Adam([w1, b1, w2, b2], lr=0.02)
    for _ in range(FIT_STEPS):
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits(), y, reduction="none")
        ((loss * m).sum() / m.sum()).backward()
        optimizer.step()
    with torch.no_grad():
        z = logits()
        margin = float(torch.where(m > 0, torch.where(y > 0, z, -z), torch.full_like(z, math.inf)).min())
    if margin < 1.0:
        raise RuntimeError(f"the rnnt stand-in's frame classifier fitted with margin {margin:.3f} < 1")
    scale = 4.0 / margin  # post-rnn pre-activations beyond +-4: tanh(tanh(.)) saturates at +-0.76
    return tuple(t.detach() for t in (w1, b1, w2 * scale, b2 * scale))


def _lstm(prefix: str, w_ih, b_g, w_hh=None) -> Dict:
    """A memoryless one-layer LSTM: gates (i, f, g, o) = (open, shut, W x + b, open)."""
    import torch

    hidden, inputs = w_ih.shape
    weight_ih, bias = torch.zeros(4 * hidden, inputs), torch.zeros(4 * hidden)
    weight_ih[2 * hidden:3 * hidden] = w_ih
    bias[:hidden], bias[hidden:2 * hidden], bias[2 * hidden:3 * hidden], bias[3 * hidden:] = OPEN, -OPEN, b_g, OPEN
    weight_hh = torch.zeros(4 * hidden, hidden)
    if w_hh is not None:
        weight_hh[2 * hidden:3 * hidden] = w_hh
    return {f"{prefix}.lstm.weight_ih_l0": weight_ih, f"{prefix}.lstm.weight_hh_l0": weight_hh,
            f"{prefix}.lstm.bias_ih_l0": bias, f"{prefix}.lstm.bias_hh_l0": torch.zeros(4 * hidden)}


def checkpoint() -> Dict:
    """The stand-in checkpoint, shaped as the published one: {"state_dict": ..., "epoch": ...} with its
    ``joint_net`` names and the featurizer buffers the reference's loader drops."""
    import torch

    w1, b1, w2, b2 = fit_encoder()
    post_w, post_b = torch.zeros(HIDDEN, 2 * HIDDEN), torch.full((HIDDEN,), -10.0)
    post_w[:CLASSES], post_b[:CLASSES] = w2, b2
    joint0_w, joint0_b = torch.zeros(CLASSES, HIDDEN + 1), torch.full((CLASSES,), -10.0)
    joint3_w, joint3_b = torch.zeros(BLANK + 1, CLASSES), torch.zeros(BLANK + 1)
    for k in range(CLASSES):
        joint0_w[k, k], joint0_w[k, HIDDEN] = 10.0, 10.0 if k % 2 == 0 else -10.0
        joint3_w[k // 2, k] = 1.0
    joint3_b[BLANK] = 1.0
    state = {"audio_preprocessor.featurizer.fb": torch.from_numpy(FILTERBANK)[None],
             "audio_preprocessor.featurizer.window": torch.hann_window(WIN_LENGTH, periodic=False)}
    state.update(_lstm("encoder.pre_rnn", w1, b1))
    state.update(_lstm("encoder.post_rnn", post_w, post_b))
    state["prediction.embed.weight"] = torch.zeros(BLANK, 1)
    state.update(_lstm("prediction.dec_rnn", torch.zeros(1, 1), torch.tensor([2.0]), torch.tensor([[-10.0]])))
    state.update({"joint_net.0.weight": joint0_w, "joint_net.0.bias": joint0_b,
                  "joint_net.3.weight": joint3_w, "joint_net.3.bias": joint3_b})
    return {"state_dict": state, "epoch": 100}


def write_wav(path: Path, samples: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(SAMPLE_RATE)
        handle.writeframes(samples.tobytes())


def decode_all(model_path: Path, data_dir: Path) -> List[str]:
    """Every utterance of the folder through the harness's path: its loader, features and model."""
    import torch

    from mlperf_harness.backends.state_dicts import load_state_dict_model
    from mlperf_harness.models.rnnt.dataset import LibriSpeechDataset

    model, _ = load_state_dict_model(torch.load(model_path, map_location="cpu", weights_only=True))
    dataset, texts = LibriSpeechDataset.open(data_dir), []
    with torch.inference_mode():
        for i in range(len(dataset)):
            feats = extract(dataset.load(i))
            ids = model(torch.from_numpy(np.ascontiguousarray(feats.T[:, None, :])),
                        torch.tensor([feats.shape[1]]))[0]
            texts.append("".join(LABELS[k] for k in ids.tolist() if k >= 0))
    return texts


def generate(out_dir: Path, n_utterances: int = 8, swap: float = 0.0, seed: int = 0,
             backend: str = "pytorch") -> Dict:
    """Write the stand-in model, dataset and expected.json under ``out_dir``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one order of the sums (the same fit on every run of a machine), and fast on tiny ops
    try:
        return _generate(out_dir, n_utterances, swap, seed, backend)
    finally:
        torch.set_num_threads(threads)


def _generate(out_dir: Path, n_utterances: int, swap: float, seed: int, backend: str) -> Dict:
    from mlperf_harness.models.rnnt.accuracy import levenshtein

    model_dir, data_dir = prepare(out_dir, backend, MODEL_FILES, ("n_utterances", n_utterances), ("swap", swap))
    model_path = save_state_dict(model_dir / MODEL_FILES[backend], checkpoint())
    swapped = int(math.floor(swap * n_utterances + 0.5))
    manifest, phrases = [], []
    for n in range(n_utterances):
        phrase = (n + seed) % len(PHRASES)
        samples, _ = tones(phrase)
        text = PHRASES[phrase]
        fname = f"dev-clean-wav/{1000 + n}/{2000 + n}/{1000 + n}-{2000 + n}-{n:04d}.wav"
        write_wav(data_dir / fname, samples)
        duration = samples.size / SAMPLE_RATE
        said = text.upper() if n >= swapped else " ".join(["XYZZY"] + text.split()[1:]).upper()
        manifest.append({"transcript": said, "files": [
            {"channels": 1, "sample_rate": float(SAMPLE_RATE), "bitdepth": 16, "bitrate": 256000.0,
             "duration": duration, "num_samples": int(samples.size), "encoding": "Signed Integer PCM",
             "silent": False, "fname": fname, "speed": 1}],
            "original_duration": duration, "original_num_samples": int(samples.size)})
        phrases.append(said.lower())
    (data_dir / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    decoded = decode_all(model_path, data_dir)
    wrong = [(n, text) for n, text in enumerate(decoded) if text != PHRASES[(n + seed) % len(PHRASES)]]
    if wrong:
        raise RuntimeError(f"the rnnt stand-in decodes utterance {wrong[0][0]} as {wrong[0][1]!r}")
    errors = sum(levenshtein(h.split(), r.split()) for h, r in zip(decoded, phrases))
    words = sum(len(r.split()) for r in phrases)
    if errors != swapped:
        raise RuntimeError(f"the rnnt stand-in scores {errors} word errors, expected {swapped}")
    wer = errors / words
    expected = {"wer": wer, "words": words, "swapped": swapped,
                "line": "Word Error Rate: {:}%, accuracy={:}%".format(wer * 100, (1 - wer) * 100),
                "known": "each utterance is decoded to its phrase (checked here through the harness's loader, "
                         "features and greedy RNN-T decoder); the manifest's transcripts differ from the "
                         "phrases in their swapped first words only, so the accuracy script's word Levenshtein "
                         "counts one substitution per swapped transcript: WER = swapped / words",
                "generator": "rnnt", "version": VERSION, "backend": backend, "blank": BLANK}
    return write_expected(out_dir, model_path, data_dir, expected)


def main(argv=None) -> int:
    return standin_main("python -m mlperf_harness.models.rnnt.standin",
                        "Write the rnnt stand-in model and tone-alphabet LibriSpeech folder.",
                        MODEL_FILES, ("--utterances", 8, "utterances"),
                        ("--swap", 0.0, "fraction of transcripts with their first word replaced"),
                        generate, argv)


if __name__ == "__main__":
    sys.exit(main())
