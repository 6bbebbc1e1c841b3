"""A bert (SQuAD v1.1) stand-in: a tiny deterministic model with bert-large's
input/output signature, a generated WordPiece vocabulary and a synthetic
SQuAD-layout dataset whose exact match and F1 are known in advance.

No download: numpy and onnx (torch only for the pytorch format).

Model: inputs ``input_ids``, ``input_mask``, ``segment_ids`` int64 [N,384] ->
``output_start_logits``, ``output_end_logits`` float32 [N,384], as the
reference model.onnx. Inside, at width 8: word + segment + position
embeddings (seeded, small) -> a dense layer to (start, end) logits, padding
pushed to -10000. The vocabulary has *marker* words whose embeddings carry a
large start score, a large end score, or both; every other token scores near
zero. So the predicted answer is always the span from the context's start
marker to its end marker (or its one both-marker word), whatever the
question, and the dataset's gold answers decide how right that is.

Formats (``generate(out, backend=...)``): ``model.onnx`` (opset 11) for
onnxruntime; ``model.pytorch``, a TorchScript archive returning the
(start, end) tuple, for pytorch. Same seeded weights in both.

Dataset (``dataset/``): ``dev-v1.1.json`` and ``vocab.txt``. Paragraphs of
generated words -- some split into several WordPieces, capitalised,
accented, numbers, punctuation attached, a CJK character ([UNK]) -- each
holding one marker span; some paragraphs are long enough to need two to
four 384-token windows (stride 128). Each question is one of: *exact* (a gold
answer is the marker span, up to articles and punctuation: EM 1, F1 1),
*partial* (the gold answer overlaps the span: EM 0, 0 < F1 < 1) or *wrong*
(shares no word with it: 0, 0). Question i is exact iff
round_half_up((i+1)*f) - round_half_up(i*f) == 1 (f = the exact fraction),
the others alternate partial / wrong; expected.json holds the exact match and
F1 the official script gives, computed here from the span texts.

    python -m mlperf_harness.models.bert.standin OUT_DIR [--backend onnxruntime|pytorch]
        [--questions N] [--exact F] [--seed S]
"""

from __future__ import annotations

import collections
import json
import math
import re
import string
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mlperf_harness.standin_cli import main as standin_main, onnx_model, prepare, write_expected

VERSION = 1
SEQ = 384
WIDTH = 8
MARK = 8.0  # a marker's start/end score; everything else scores within about +-0.5
MODEL_FILES = {"onnxruntime": "model.onnx", "pytorch": "model.pytorch"}
INPUTS = ("input_ids", "input_mask", "segment_ids")
OUTPUTS = ("output_start_logits", "output_end_logits")

SPECIALS = ["[PAD]"] + [f"[unused{i}]" for i in range(5)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
FUNCTION_WORDS = ["the", "a", "an", "of", "and", "in", "on", "to", "was", "is", "what", "which",
                  "who", "when", "where", "did", "does", "how", "many", "by", "for", "with", "from",
                  "at", "name", "called"]
SUFFIXES = ["##ing", "##ed", "##s", "##ly", "##tion", "##er"]
# Fillers use these letters only; markers start with z, x or q, so no filler can
# contain a marker or tokenize into one.
_CONSONANTS = "bdfgklmnprstv"
_VOWELS = "aeiou"


def _syllables(rng, n: int) -> str:
    return "".join(rng.choice(list(_CONSONANTS)) + rng.choice(list(_VOWELS)) for _ in range(n))


def make_vocab(seed: int) -> Tuple[List[str], List[str], Dict[str, List[str]]]:
    """(vocab tokens in id order, filler words, markers by kind: start / end / both)."""
    rng = np.random.default_rng([seed, 0xB3])
    fillers: List[str] = []
    seen = set(FUNCTION_WORDS)
    while len(fillers) < 240:
        word = _syllables(rng, int(rng.integers(2, 4)))
        if word not in seen:
            seen.add(word)
            fillers.append(word)
    markers: Dict[str, List[str]] = {}
    for kind, head, count in (("start", "zu", 8), ("end", "xo", 8), ("both", "qa", 4)):
        words = []
        while len(words) < count:
            word = head + _syllables(rng, 2)
            if word not in seen:
                seen.add(word)
                words.append(word)
        markers[kind] = words
    letters = list(string.ascii_lowercase) + list(string.digits)
    tokens = list(dict.fromkeys(
        SPECIALS + list(string.punctuation) + letters + ["##" + c for c in letters] + SUFFIXES
        + FUNCTION_WORDS + fillers + markers["start"] + markers["end"] + markers["both"]))
    return tokens, fillers, markers


def weights(seed: int, vocab: List[str], markers: Dict[str, List[str]]):
    rng = np.random.default_rng([seed, 0xBE27])
    word = (rng.standard_normal((len(vocab), WIDTH)) * 0.05).astype(np.float32)
    index = {t: i for i, t in enumerate(vocab)}
    for kind, column in (("start", (0,)), ("end", (1,)), ("both", (0, 1))):
        for token in markers[kind]:
            for c in column:
                word[index[token], c] += MARK
    segment = (rng.standard_normal((2, WIDTH)) * 0.05).astype(np.float32)
    position = (rng.standard_normal((SEQ, WIDTH)) * 0.05).astype(np.float32)
    dense = np.zeros((WIDTH, 2), dtype=np.float32)
    dense[0, 0] = dense[1, 1] = 1.0
    dense[2:] = (rng.standard_normal((WIDTH - 2, 2)) * 0.1).astype(np.float32)
    bias = np.array([0.1, -0.1], dtype=np.float32)
    return {"word": word, "segment": segment, "position": position, "dense": dense, "bias": bias}


# ---- model formats ------------------------------------------------------------------------------

def build_onnx(p) -> onnx.ModelProto:
    batch = "batch_size"
    init = [numpy_helper.from_array(p["word"], "embeddings/word"),
            numpy_helper.from_array(p["segment"], "embeddings/segment"),
            numpy_helper.from_array(p["position"], "embeddings/position"),
            numpy_helper.from_array(p["dense"], "qa/kernel"),
            numpy_helper.from_array(p["bias"], "qa/bias"),
            numpy_helper.from_array(np.array(1.0, np.float32), "one"),
            numpy_helper.from_array(np.array(10000.0, np.float32), "big")]
    nodes = [
        helper.make_node("Gather", ["embeddings/word", "input_ids"], ["word"], axis=0),
        helper.make_node("Gather", ["embeddings/segment", "segment_ids"], ["segment"], axis=0),
        helper.make_node("Add", ["word", "segment"], ["hidden0"]),
        helper.make_node("Add", ["hidden0", "embeddings/position"], ["hidden"]),
        helper.make_node("MatMul", ["hidden", "qa/kernel"], ["qa0"]),
        helper.make_node("Add", ["qa0", "qa/bias"], ["qa1"]),
        helper.make_node("Cast", ["input_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["mask", "one"], ["unmasked"]),
        helper.make_node("Mul", ["unmasked", "big"], ["penalty0"]),
        helper.make_node("Unsqueeze", ["penalty0"], ["penalty"], axes=[2]),
        helper.make_node("Add", ["qa1", "penalty"], ["logits"]),
        helper.make_node("Split", ["logits"], ["start", "end"], axis=2, split=[1, 1]),
        helper.make_node("Squeeze", ["start"], [OUTPUTS[0]], axes=[2]),
        helper.make_node("Squeeze", ["end"], [OUTPUTS[1]], axes=[2]),
    ]
    graph = helper.make_graph(
        nodes, "bert_standin",
        inputs=[helper.make_tensor_value_info(n, TensorProto.INT64, [batch, SEQ]) for n in INPUTS],
        outputs=[helper.make_tensor_value_info(n, TensorProto.FLOAT, [batch, SEQ]) for n in OUTPUTS],
        initializer=init)
    return onnx_model(graph, 11, 6, "bert", VERSION,
                      "Synthetic stand-in with bert-large (SQuAD) inputs and outputs; not a real model.")


_TORCH_SOURCE = """
from typing import Tuple

import torch


class BertStandin(torch.nn.Module):
    def __init__(self, word, segment, position, dense, bias):
        super().__init__()
        self.register_buffer("word", word)
        self.register_buffer("segment", segment)
        self.register_buffer("position", position)
        self.register_buffer("dense", dense)
        self.register_buffer("bias", bias)

    def forward(self, input_ids: torch.Tensor, input_mask: torch.Tensor,
                segment_ids: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        hidden = self.word[input_ids] + self.segment[segment_ids] + self.position
        logits = hidden @ self.dense + self.bias
        logits = logits + ((input_mask.to(torch.float32) - 1.0) * 10000.0).unsqueeze(2)
        return logits[:, :, 0], logits[:, :, 1]
"""


def build_torchscript(p) -> bytes:
    import torch

    from mlperf_harness.models.resnet50.standin import compile_torch_source, torchscript_bytes

    namespace = compile_torch_source(_TORCH_SOURCE, "mlperf_docker_standins/bert_torch.py")
    module = namespace["BertStandin"](*(torch.from_numpy(p[k].copy())
                                        for k in ("word", "segment", "position", "dense", "bias")))
    return torchscript_bytes(module)


def model_bytes(backend: str, p) -> bytes:
    if backend == "onnxruntime":
        return build_onnx(p).SerializeToString(deterministic=True)
    if backend == "pytorch":
        return build_torchscript(p)
    raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(MODEL_FILES)}")


def export_model(path, backend: str, seed: int = 0) -> Path:
    """Write just the model for ``backend`` (the weights ``generate`` uses for ``seed``) to ``path``."""
    vocab, _, markers = make_vocab(seed)
    path = Path(path)
    path.write_bytes(model_bytes(backend, weights(seed, vocab, markers)))
    return path


# ---- the official SQuAD v1.1 metric (for expected.json) ------------------------------------------

def _normalize(text: str) -> str:
    text = "".join(c for c in text.lower() if c not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _f1(prediction: str, truth: str) -> float:
    p, t = _normalize(prediction).split(), _normalize(truth).split()
    same = sum((collections.Counter(p) & collections.Counter(t)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(t)
    return 2 * precision * recall / (precision + recall)


# ---- dataset ------------------------------------------------------------------------------------

def correct_count(i: int, fraction: float) -> int:
    return int(math.floor(i * fraction + 0.5))


def _decorate(rng, word: str) -> str:
    """A context word: mostly plain, sometimes capitalised, accented, suffixed or punctuated."""
    roll = rng.random()
    if roll < 0.08:
        word = word.capitalize()
    elif roll < 0.12:
        word = word.replace("e", "\u00e9", 1) if "e" in word else word + "s"
    elif roll < 0.2:
        word = word + str(rng.choice(["ing", "ed", "s", "ly", "tion", "er"]))
    roll = rng.random()
    if roll < 0.08:
        word += ","
    elif roll < 0.12:
        word += "."
    elif roll < 0.14:
        word = f"({word})"
    return word


def _filler_words(rng, fillers: List[str], n: int) -> List[str]:
    words = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.06:
            words.append(str(int(rng.integers(10, 3000))))  # digits: several WordPieces
        elif roll < 0.08:
            words.append("".join(rng.choice(list("bcdfghjklmnpqrstvwxyz"), size=3)))  # letter pieces
        elif roll < 0.085:
            words.append("\u4e2d")  # a CJK character: its own token, [UNK] here
        elif roll < 0.2:
            words.append(str(rng.choice(FUNCTION_WORDS[:9])))
        else:
            words.append(_decorate(rng, str(rng.choice(fillers))))
    return words


def _join(words: List[str], rng) -> Tuple[str, List[int]]:
    """Context text and each word's character offset; separators vary (space, two spaces, newline)."""
    text, offsets = "", []
    for i, word in enumerate(words):
        if i:
            text += str(rng.choice([" "] * 12 + ["  ", "\n"]))
        offsets.append(len(text))
        text += word
    return text, offsets


def _clean(word: str) -> str:
    return word.strip(string.punctuation)


def generate(out_dir: Path, n_questions: int = 60, exact_fraction: float = 0.75, seed: int = 0,
             backend: str = "onnxruntime") -> Dict:
    """Write model/<file>, dataset/{dev-v1.1.json, vocab.txt} and expected.json under ``out_dir``."""
    out_dir = Path(out_dir)
    model_dir, data_dir = prepare(out_dir, backend, MODEL_FILES, ("n_questions", n_questions),
                                  ("exact_fraction", exact_fraction))

    vocab, fillers, markers = make_vocab(seed)
    params = weights(seed, vocab, markers)
    model_path = model_dir / MODEL_FILES[backend]
    model_path.write_bytes(model_bytes(backend, params))
    (data_dir / "vocab.txt").write_text("".join(t + "\n" for t in vocab), encoding="utf-8")

    rng = np.random.default_rng([seed, 0x5A0D])
    paragraphs, question_index = [], 0
    em_total = f1_total = 0.0
    while question_index < n_questions:
        long = len(paragraphs) % 4 == 3  # every fourth paragraph needs several windows
        n_words = int(rng.integers(330, 620)) if long else int(rng.integers(50, 160))
        words = _filler_words(rng, fillers, n_words)
        # The marker span: start marker, 0-5 words, end marker -- or one both-marker word.
        if rng.random() < 0.2:
            span = [_decorate(rng, str(rng.choice(markers["both"])))]
        else:
            middle = _filler_words(rng, fillers, int(rng.integers(0, 6)))
            middle = [w if w != "\u4e2d" else "the" for w in middle]
            span = [str(rng.choice(markers["start"])).capitalize() if rng.random() < 0.3
                    else str(rng.choice(markers["start"]))] + middle + [
                str(rng.choice(markers["end"])) + str(rng.choice(["", "", ",", "."]))]
        at = int(rng.integers(0, n_words - 8))
        words[at:at] = span
        context, offsets = _join(words, rng)
        span_words = words[at:at + len(span)]
        prediction = " ".join(span_words)  # what the pipeline predicts, up to punctuation
        qas = []
        for _ in range(int(rng.integers(2, 4))):
            if question_index >= n_questions:
                break
            i = question_index
            question_index += 1
            exact = correct_count(i + 1, exact_fraction) - correct_count(i, exact_fraction) == 1
            wrong_turn = (i - correct_count(i, exact_fraction)) % 2 == 1
            if exact:
                kind = "exact"
                first, last = at, at + len(span) - 1
            elif not wrong_turn:
                kind = "partial"  # the span plus the next two words
                first, last = at, min(at + len(span) + 1, len(words) - 1)
            else:
                kind = "wrong"  # two words far from the span, sharing none of its words
                first = None
                for _attempt in range(1000):
                    start = int(rng.integers(0, len(words) - 2))
                    if abs(start - at) < len(span) + 3:
                        continue
                    candidate = " ".join(words[start:start + 2])
                    if _normalize(candidate) and _f1(prediction, candidate) == 0.0:
                        first, last = start, start + 1
                        break
                if first is None:
                    raise RuntimeError("no disjoint wrong answer found")
            # Gold text: the context from the first word to the last, trailing punctuation trimmed.
            begin = offsets[first]
            end = offsets[last] + len(words[last].rstrip(string.punctuation) or words[last])
            if words[first].startswith("("):
                begin += 1
            gold = context[begin:end]
            answers = [{"answer_start": begin, "text": gold}]
            if kind == "exact":  # SQuAD lists several annotators' answers: add a longer one
                longer_end = offsets[min(last + 1, len(words) - 1)] + len(words[min(last + 1, len(words) - 1)])
                answers.append({"answer_start": begin, "text": context[begin:longer_end]})
            em_total += max(float(_normalize(prediction) == _normalize(a["text"])) for a in answers)
            f1_total += max(_f1(prediction, a["text"]) for a in answers)
            question = "What " + " ".join(_filler_words(rng, fillers, int(rng.integers(4, 12)))) + "?"
            qas.append({"id": "%024x" % int(rng.integers(0, 2 ** 62)) + "", "question": question,
                        "answers": answers, "kind": kind})
        paragraphs.append({"context": context, "qas": qas})
    for paragraph in paragraphs:
        for qa in paragraph["qas"]:
            qa.pop("kind")
    data = {"version": "1.1",
            "data": [{"title": f"Standin_{n}", "paragraphs": paragraphs[n:n + 4]}
                     for n in range(0, len(paragraphs), 4)]}
    (data_dir / "dev-v1.1.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n",
                                            encoding="utf-8")
    expected = {"exact_match": 100.0 * em_total / n_questions, "f1": 100.0 * f1_total / n_questions,
                "questions": n_questions, "paragraphs": len(paragraphs), "generator": "bert",
                "version": VERSION, "backend": backend}
    return write_expected(out_dir, model_path, data_dir, expected)


def main(argv=None) -> int:
    return standin_main("python -m mlperf_harness.models.bert.standin", "Write the bert stand-in model and SQuAD dataset.", MODEL_FILES,
                        ("--questions", 60, "synthetic questions"), ("--exact", 0.75, "fraction answered exactly"), generate, argv)


if __name__ == "__main__":
    sys.exit(main())
