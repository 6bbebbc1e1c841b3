"""SQuAD v1.1 (dev-v1.1.json) as the MLPerf bert reference feeds it.

Layout: a folder holding ``dev-v1.1.json`` and, by default, the WordPiece
``vocab.txt`` (else beside the model file, or --dataset-args vocab_file=...).

Each question is an *example*; its context is split into *features*
(LoadGen's samples): [CLS] question (at most 64 tokens) [SEP] a window of the
context [SEP], padded to 384 tokens; windows start every 128 tokens
(doc_stride) until one reaches the end of the context. A sample is three
int64 [384] arrays: input_ids, input_mask, segment_ids. The mapping from
feature tokens back to context words, and which window gives a token its
"max context", are kept for the accuracy script.

``--count N`` uses the first N features (in dataset order).
``cache_dir`` keeps the features of a (dataset, vocabulary) pair as
``squad-<digest>.npz`` + ``.json`` so later processes skip tokenizing.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from mlperf_harness.models.bert.wordpiece import CLS, SEP, WordPieceTokenizer
from mlperf_harness.errors import CountError, HarnessError

DEV_FILE = "dev-v1.1.json"
VOCAB_FILE = "vocab.txt"
MAX_SEQ_LENGTH = 384
DOC_STRIDE = 128
MAX_QUERY_LENGTH = 64
CACHE_VERSION = 1


class DatasetError(HarnessError):
    """A malformed or incomplete SQuAD folder."""


class DatasetCountError(DatasetError, CountError):
    """--count larger than the dataset."""


@dataclass
class Example:
    qas_id: str
    question: str
    doc_tokens: List[str]  # the context split on whitespace
    answers: List[str]


@dataclass
class Feature:
    example_index: int
    tokens: List[str]
    token_to_orig: Dict[int, int]  # feature position -> index in doc_tokens
    max_context: Dict[int, bool]  # feature position -> is this window the token's best


def _is_squad_whitespace(ch: str) -> bool:
    return ch in (" ", "\t", "\r", "\n") or ord(ch) == 0x202F


def split_context(text: str) -> List[str]:
    """The context's whitespace-separated words (as the reference's read_squad_examples)."""
    words: List[str] = []
    previous_space = True
    for ch in text:
        if _is_squad_whitespace(ch):
            previous_space = True
        else:
            if previous_space:
                words.append(ch)
            else:
                words[-1] += ch
            previous_space = False
    return words


def read_examples(path: Union[str, os.PathLike]) -> List[Example]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: not found (a SQuAD folder needs {DEV_FILE})") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable SQuAD file ({exc})") from None
    try:
        examples = []
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                words = split_context(paragraph["context"])
                for qa in paragraph["qas"]:
                    examples.append(Example(qas_id=str(qa["id"]), question=qa["question"],
                                            doc_tokens=words,
                                            answers=[a["text"] for a in qa.get("answers", [])]))
    except (KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: not in the SQuAD layout (missing {exc})") from None
    if not examples:
        raise DatasetError(f"{path}: no questions")
    return examples


def _is_max_context(spans: Sequence[Tuple[int, int]], current: int, position: int) -> bool:
    """Is window ``current`` the one where ``position`` has the most context on its
    shorter side (ties: the longer window, then the earlier one)?"""
    best_score, best = None, None
    for index, (start, length) in enumerate(spans):
        end = start + length - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best_score is None or score > best_score:
            best_score, best = score, index
    return best == current


def make_features(examples: Sequence[Example], tokenizer: WordPieceTokenizer,
                  max_seq_length: int = MAX_SEQ_LENGTH, doc_stride: int = DOC_STRIDE,
                  max_query_length: int = MAX_QUERY_LENGTH,
                  limit: Optional[int] = None) -> Tuple[List[Feature], np.ndarray]:
    """Features of ``examples`` (the first ``limit`` of them, if given) and their
    model inputs as one int64 array [n_features, 3, max_seq_length]."""
    features: List[Feature] = []
    rows: List[np.ndarray] = []
    cached_doc: Tuple[int, List[str], List[int]] = (-1, [], [])
    for example_index, example in enumerate(examples):
        if limit is not None and len(features) >= limit:
            break
        query = tokenizer.tokenize(example.question)[:max_query_length]
        # Questions on one paragraph share its word list: tokenize it once.
        if cached_doc[0] != id(example.doc_tokens):
            doc_pieces: List[str] = []
            piece_to_word: List[int] = []
            for word_index, word in enumerate(example.doc_tokens):
                for piece in tokenizer.tokenize(word):
                    doc_pieces.append(piece)
                    piece_to_word.append(word_index)
            cached_doc = (id(example.doc_tokens), doc_pieces, piece_to_word)
        _, doc_pieces, piece_to_word = cached_doc
        room = max_seq_length - len(query) - 3
        if room < 1:
            raise DatasetError(f"question {example.qas_id} leaves no room for its context")
        spans: List[Tuple[int, int]] = []
        offset = 0
        while offset < len(doc_pieces):
            length = min(len(doc_pieces) - offset, room)
            spans.append((offset, length))
            if offset + length == len(doc_pieces):
                break
            offset += min(length, doc_stride)
        for span_index, (start, length) in enumerate(spans):
            tokens = [CLS] + query + [SEP]
            segments = [0] * len(tokens)
            token_to_orig: Dict[int, int] = {}
            max_context: Dict[int, bool] = {}
            for i in range(length):
                position = start + i
                token_to_orig[len(tokens)] = piece_to_word[position]
                max_context[len(tokens)] = _is_max_context(spans, span_index, position)
                tokens.append(doc_pieces[position])
                segments.append(1)
            tokens.append(SEP)
            segments.append(1)
            row = np.zeros((3, max_seq_length), dtype=np.int64)
            row[0, :len(tokens)] = tokenizer.ids(tokens)
            row[1, :len(tokens)] = 1
            row[2, :len(tokens)] = segments
            rows.append(row)
            features.append(Feature(example_index, tokens, token_to_orig, max_context))
            if limit is not None and len(features) >= limit:
                break
    inputs = np.stack(rows) if rows else np.zeros((0, 3, max_seq_length), np.int64)
    return features, inputs


def find_vocab(root: Path, vocab_file: Optional[str], model_path: Optional[str]) -> Path:
    if vocab_file:
        path = Path(vocab_file)
        if not path.is_file():
            raise DatasetError(f"vocab_file {vocab_file} not found")
        return path
    candidates = [root / VOCAB_FILE]
    if model_path:
        candidates.append(Path(model_path).parent / VOCAB_FILE)
    for path in candidates:
        if path.is_file():
            return path
    raise DatasetError(f"no {VOCAB_FILE} in {root}" + (f" or beside {model_path}" if model_path else "")
                       + "; pass --dataset-args vocab_file=PATH")


def _file_digest(*paths: Path) -> str:
    digest = hashlib.sha256(f"squad-features-v{CACHE_VERSION}".encode())
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


@dataclass
class SquadDataset:
    root: Path
    examples: List[Example]
    features: List[Feature]
    inputs: np.ndarray  # int64 [n, 3, 384]
    vocab_path: Path
    tokenizer: WordPieceTokenizer

    @property
    def sample_spec(self):
        return [((self.inputs.shape[2],), np.int64)] * 3

    @classmethod
    def open(cls, root: Union[str, os.PathLike], count: Optional[int] = None,
             vocab_file: Optional[str] = None, cache_dir: Optional[str] = None,
             model_path: Optional[str] = None, **_ignored) -> "SquadDataset":
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"dataset folder {root} does not exist")
        dev = root / DEV_FILE
        examples = read_examples(dev)
        vocab_path = find_vocab(root, vocab_file, model_path)
        tokenizer = WordPieceTokenizer.from_file(vocab_path)
        cached = _load_cache(cache_dir, dev, vocab_path) if cache_dir else None
        if cached is None:
            features, inputs = make_features(examples, tokenizer)
            if cache_dir:
                _save_cache(cache_dir, dev, vocab_path, features, inputs)
        else:
            features, inputs = cached
        if count is not None:
            if count > len(features):
                raise DatasetCountError(f"--count {count} exceeds the {len(features)} features "
                                   f"(samples) of {dev}")
            features, inputs = features[:count], inputs[:count]
        return cls(root=root, examples=examples, features=features, inputs=inputs,
                   vocab_path=vocab_path, tokenizer=tokenizer)

    def __len__(self) -> int:
        return len(self.features)

    def load(self, index: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        row = self.inputs[index]
        return row[0], row[1], row[2]


def _cache_paths(cache_dir: str, dev: Path, vocab: Path) -> Tuple[Path, Path]:
    stem = Path(cache_dir) / f"squad-{_file_digest(dev, vocab)}"
    return stem.with_suffix(".npz"), stem.with_suffix(".json")


def _load_cache(cache_dir: str, dev: Path, vocab: Path):
    arrays, meta = _cache_paths(cache_dir, dev, vocab)
    try:
        inputs = np.load(arrays, allow_pickle=False)["inputs"]
        rows = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return None
    features = [Feature(r["e"], r["t"], {int(k): v for k, v in r["m"].items()},
                        {int(k): v for k, v in r["c"].items()}) for r in rows]
    if len(features) != len(inputs):
        return None
    return features, inputs


def _save_cache(cache_dir: str, dev: Path, vocab: Path, features, inputs) -> None:
    arrays, meta = _cache_paths(cache_dir, dev, vocab)
    try:
        arrays.parent.mkdir(parents=True, exist_ok=True)
        tmp = arrays.with_name(f".{arrays.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            np.savez(handle, inputs=inputs)
        os.replace(tmp, arrays)
        rows = [{"e": f.example_index, "t": f.tokens, "m": f.token_to_orig, "c": f.max_context}
                for f in features]
        tmp = meta.with_name(f".{meta.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rows), encoding="utf-8")
        os.replace(tmp, meta)
    except OSError as exc:
        raise DatasetError(f"cache_dir {cache_dir}: cannot write the features ({exc.strerror})") from None
