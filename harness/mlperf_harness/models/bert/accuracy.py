"""SQuAD v1.1 F1 / exact match of a bert run, from LoadGen's accuracy log.

Each response is one feature's logits as little-endian float32 [384, 2]
(start, end per token), as the reference packs them. Entries are
de-duplicated by qsl_idx (the first wins). Per question, over the windows
that were run: the 20 best start and 20 best end positions of each window
form candidate spans, dropped when a position is outside the context, not
in its max-context window, or the span is reversed or longer than 30
tokens; the best-scoring (start + end logit) candidate's text is projected
back onto the original context words (as the reference's get_final_text,
which tokenizes the original words with the full WordPiece tokenizer). The
predictions are scored as the official SQuAD v1.1 evaluate script does
(normalise: lower-case, drop punctuation and articles; best over the gold
answers). With --count, the questions scored are those with a window among
the samples used.

accuracy.txt holds what the reference prints, e.g.
``{"exact_match": 75.0, "f1": 85.0}``; the submission checker reads the f1.

    python -m mlperf_harness.models.bert.accuracy --log FILE --dataset-path DIR
        [--vocab-file FILE] [--count N] [--output FILE] [--predictions FILE]
"""

from __future__ import annotations

import collections
import json
import re
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from mlperf_harness.models.resnet50.accuracy import load_log
from mlperf_harness.models.bert.wordpiece import WordPieceTokenizer
from mlperf_harness.errors import HarnessError
from mlperf_harness.models.common import accuracy_main, accuracy_parser

N_BEST = 20
MAX_ANSWER_LENGTH = 30


@dataclass
class SquadResult:
    exact_match: float
    f1: float
    questions: int
    duplicates: int = 0
    predictions: Dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        return json.dumps({"exact_match": self.exact_match, "f1": self.f1})

    def accuracy_txt(self) -> str:
        return self.line() + "\n"


# ---- the official SQuAD v1.1 metric --------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def f1_score(prediction: str, truth: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    true_tokens = normalize_answer(truth).split()
    common = collections.Counter(pred_tokens) & collections.Counter(true_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(true_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match_score(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def score_predictions(examples, predictions: Dict[str, str]):
    """(exact_match %, f1 %) over ``examples`` (each scored 0 without a prediction)."""
    em = f1 = 0.0
    for example in examples:
        prediction = predictions.get(example.qas_id)
        if prediction is None or not example.answers:
            continue
        em += max(exact_match_score(prediction, t) for t in example.answers)
        f1 += max(f1_score(prediction, t) for t in example.answers)
    total = len(examples)
    return (100.0 * em / total if total else 0.0), (100.0 * f1 / total if total else 0.0)


# ---- logits -> answer text --------------------------------------------------------------------

def _best_indexes(logits: List[float], n: int) -> List[int]:
    return sorted(range(len(logits)), key=logits.__getitem__, reverse=True)[:n]


def final_text(tokenizer: WordPieceTokenizer, pred_text: str, orig_text: str) -> str:
    """Map the de-tokenized prediction back onto the original words' characters;
    fall back to the original words when the alignment fails."""

    def strip_spaces(text):
        chars, mapping = [], {}
        for i, ch in enumerate(text):
            if ch == " ":
                continue
            mapping[len(chars)] = i
            chars.append(ch)
        return "".join(chars), mapping

    tok_text = " ".join(tokenizer.tokenize(orig_text))
    start = tok_text.find(pred_text)
    if start == -1:
        return orig_text
    end = start + len(pred_text) - 1
    orig_ns, orig_map = strip_spaces(orig_text)
    tok_ns, tok_map = strip_spaces(tok_text)
    if len(orig_ns) != len(tok_ns):
        return orig_text
    tok_s_to_ns = {s: ns for ns, s in tok_map.items()}
    if start not in tok_s_to_ns or end not in tok_s_to_ns:
        return orig_text
    orig_start = orig_map.get(tok_s_to_ns[start])
    orig_end = orig_map.get(tok_s_to_ns[end])
    if orig_start is None or orig_end is None:
        return orig_text
    return orig_text[orig_start:orig_end + 1]


def predict(dataset, results: Dict[int, np.ndarray]) -> Dict[str, str]:
    """qas_id -> answer text, for every question with a window in ``results``
    (feature index -> float32 [L, 2] logits)."""
    by_example: Dict[int, List[int]] = collections.defaultdict(list)
    for index, feature in enumerate(dataset.features):
        by_example[feature.example_index].append(index)
    predictions: Dict[str, str] = {}
    for example_index, feature_indexes in by_example.items():
        example = dataset.examples[example_index]
        candidates = []
        ran = [i for i in feature_indexes if i in results]
        if not ran:
            continue
        for index in ran:
            feature = dataset.features[index]
            logits = results[index].astype(np.float64)
            start_logits = logits[:, 0].tolist()
            end_logits = logits[:, 1].tolist()
            n_tokens = len(feature.tokens)
            for s in _best_indexes(start_logits, N_BEST):
                for e in _best_indexes(end_logits, N_BEST):
                    if s >= n_tokens or e >= n_tokens:
                        continue
                    if s not in feature.token_to_orig or e not in feature.token_to_orig:
                        continue
                    if not feature.max_context.get(s, False):
                        continue
                    if e < s or e - s + 1 > MAX_ANSWER_LENGTH:
                        continue
                    candidates.append((start_logits[s] + end_logits[e], index, s, e))
        # Best first; equal scores keep their discovery order (a stable sort, as the reference's).
        candidates.sort(key=lambda c: c[0], reverse=True)
        answer = None
        for _, index, s, e in candidates:
            feature = dataset.features[index]
            pieces = " ".join(feature.tokens[s:e + 1]).replace(" ##", "").replace("##", "")
            pred_text = " ".join(pieces.strip().split())
            words = example.doc_tokens[feature.token_to_orig[s]:feature.token_to_orig[e] + 1]
            answer = final_text(dataset.tokenizer, pred_text, " ".join(words))
            break  # the n-best list's first entry is the prediction
        predictions[example.qas_id] = answer if answer is not None else "empty"
    return predictions


def decode_results(log_path, n_features: int, seq_length: int):
    entries = load_log(log_path)
    results: Dict[int, np.ndarray] = {}
    duplicates = 0
    for entry in entries:
        if not isinstance(entry, dict) or "qsl_idx" not in entry:
            raise HarnessError(f"{log_path}: malformed entry {entry!r:.80}")
        index = entry["qsl_idx"]
        if not isinstance(index, int) or not 0 <= index < n_features:
            raise HarnessError(f"{log_path}: qsl_idx {index!r} outside the {n_features} samples")
        if index in results:
            duplicates += 1
            continue
        try:
            raw = bytes.fromhex(entry["data"])
        except (KeyError, TypeError, ValueError):
            raise HarnessError(f"{log_path}: entry qsl_idx={index} has no valid hex data") from None
        if len(raw) != seq_length * 2 * 4:
            raise HarnessError(f"{log_path}: entry qsl_idx={index} holds {len(raw)} bytes, expected "
                               f"float32 [{seq_length}, 2] start/end logits")
        results[index] = np.frombuffer(raw, dtype="<f4").reshape(seq_length, 2)
    return results, duplicates


def score(log_path, dataset, expect_total: Optional[int] = None) -> SquadResult:
    """Score the accuracy log of a run on ``dataset`` (a SquadDataset)."""
    seq_length = int(dataset.inputs.shape[2])
    results, duplicates = decode_results(log_path, len(dataset.features), seq_length)
    if expect_total is not None and len(results) != expect_total:
        raise HarnessError(f"{log_path}: covers {len(results)} samples, expected {expect_total}")
    predictions = predict(dataset, results)
    covered = sorted({f.example_index for f in dataset.features})
    examples = [dataset.examples[i] for i in covered]
    em, f1 = score_predictions(examples, predictions)
    return SquadResult(exact_match=em, f1=f1, questions=len(examples), duplicates=duplicates,
                       predictions=predictions)


def main(argv: Optional[Sequence[str]] = None) -> int:
    from mlperf_harness.models.bert.dataset import SquadDataset

    parser = accuracy_parser("bert", "SQuAD v1.1 F1 / exact match from mlperf_log_accuracy.json",
                             "folder with dev-v1.1.json", "samples (features) the run used")
    parser.add_argument("--vocab-file", help="vocab.txt (default: in the dataset folder)")
    parser.add_argument("--predictions", help="also write the predictions JSON here")

    def write_predictions(args, result) -> None:
        if args.predictions:
            Path(args.predictions).write_text(json.dumps(result.predictions, indent=4) + "\n",
                                              encoding="utf-8")

    return accuracy_main(parser, argv, lambda args: score(
        args.log, SquadDataset.open(args.dataset_path, args.count, vocab_file=args.vocab_file),
        expect_total=args.count), after=write_predictions)


if __name__ == "__main__":
    sys.exit(main())
