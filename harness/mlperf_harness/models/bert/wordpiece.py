"""BERT's uncased WordPiece tokenizer (standard library only).

Behaves as the tokenizer the MLPerf bert reference uses (transformers'
``BertTokenizer(vocab.txt)``, lower-casing): NFC-normalise; drop NUL, U+FFFD
and control characters, map every whitespace character to a space; put spaces
around CJK ideographs; split on whitespace; lower-case and strip accents (NFD,
drop combining marks); split off every punctuation character; then greedy
longest-match-first WordPiece with ``##`` continuations, a word longer than
100 characters or with no full cover becoming ``[UNK]``.
"""

from __future__ import annotations

import os
import unicodedata
from typing import Dict, List, Sequence, Union

from mlperf_harness.errors import HarnessError

UNK, CLS, SEP, PAD = "[UNK]", "[CLS]", "[SEP]", "[PAD]"
SPECIAL = (UNK, CLS, SEP, PAD, "[MASK]")
MAX_WORD_CHARS = 100


def load_vocab(path: Union[str, os.PathLike]) -> Dict[str, int]:
    """vocab.txt: one token per line, id = line number (0-based)."""
    try:
        with open(path, encoding="utf-8") as handle:
            tokens = [line.rstrip("\n") for line in handle]
    except FileNotFoundError:
        raise HarnessError(f"vocabulary {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"cannot read the vocabulary {path}: {exc}") from None
    vocab: Dict[str, int] = {}
    for index, token in enumerate(tokens):
        vocab.setdefault(token, index)
    for token in (UNK, CLS, SEP, PAD):
        if token not in vocab:
            raise HarnessError(f"vocabulary {path} has no {token} token")
    return vocab


def _is_whitespace(ch: str) -> bool:
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def _is_control(ch: str) -> bool:
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    # ASCII non-alphanumerics count as punctuation even where Unicode says otherwise ("$", "^", "`").
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text: str, lower: bool = True) -> List[str]:
    """Whitespace/punctuation split with lower-casing and accent stripping."""
    text = unicodedata.normalize("NFC", text)
    chars = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if _is_whitespace(ch):
            chars.append(" ")
        elif _is_cjk(cp):
            chars.append(f" {ch} ")
        else:
            chars.append(ch)
    tokens: List[str] = []
    for word in "".join(chars).split():
        if word in SPECIAL:
            tokens.append(word)
            continue
        if lower:
            word = word.lower()
            word = "".join(c for c in unicodedata.normalize("NFD", word)
                           if unicodedata.category(c) != "Mn")
        current = ""
        for ch in word:
            if _is_punctuation(ch):
                if current:
                    tokens.append(current)
                    current = ""
                tokens.append(ch)
            else:
                current += ch
        if current:
            tokens.append(current)
    return tokens


class WordPieceTokenizer:
    def __init__(self, vocab: Dict[str, int], lower: bool = True) -> None:
        self.vocab = vocab
        self.lower = lower
        self._cache: Dict[str, List[str]] = {}

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike]) -> "WordPieceTokenizer":
        return cls(load_vocab(path))

    def wordpiece(self, word: str) -> List[str]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        if len(word) > MAX_WORD_CHARS:
            pieces = [UNK]
        else:
            pieces = []
            start = 0
            while start < len(word):
                end = len(word)
                piece = None
                while start < end:
                    candidate = word[start:end] if start == 0 else "##" + word[start:end]
                    if candidate in self.vocab:
                        piece = candidate
                        break
                    end -= 1
                if piece is None:
                    pieces = [UNK]
                    break
                pieces.append(piece)
                start = end
        if len(self._cache) < 200_000:
            self._cache[word] = pieces
        return pieces

    def tokenize(self, text: str) -> List[str]:
        out: List[str] = []
        for token in basic_tokenize(text, self.lower):
            out.extend(self.wordpiece(token))
        return out

    def ids(self, tokens: Sequence[str]) -> List[int]:
        unk = self.vocab[UNK]
        return [self.vocab.get(t, unk) for t in tokens]
