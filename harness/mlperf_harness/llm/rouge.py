"""ROUGE as the reference LLM evaluation scripts compute it, with nothing downloaded.

The reference scripts call ``evaluate.load("rouge")`` (a download of the metric's code) and
``nltk.download("punkt")``; both fetch from the internet. Here ``rouge_score`` (the package
``evaluate``'s rouge wraps) scores each (reference, prediction) pair directly with
``use_stemmer=True``, the F-measures averaged and scaled as the reference does
(``round(mean * 100, 4)``). Before scoring, the reference joins each text's sentences with
newlines (``nltk.sent_tokenize``); that only changes rougeLsum (rouge1/2/L tokenise away
newlines), and the sentences are split here by NLTK's Punkt algorithm with its default
parameters (no downloaded punkt model): rougeLsum may differ slightly from the reference's on
real text, the checked metrics (rouge1, rouge2, rougeL, gen_len, tokens_per_sample) do not."""

from __future__ import annotations

import json
from typing import Dict, List, Sequence, Tuple

import numpy as np

from mlperf_harness.errors import HarnessError

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


def check_entries(path, entries, dataset_size: int, expect_total=None) -> None:
    """The accuracy log's (qsl_idx, data) entries cover the expected samples, all inside the dataset."""
    if expect_total is not None and len(entries) != expect_total:
        raise HarnessError(f"{path}: covers {len(entries)} samples, expected {expect_total}")
    if not entries:
        raise HarnessError(f"{path}: no responses")
    for index, _ in entries:
        if not 0 <= index < dataset_size:
            raise HarnessError(f"{path}: qsl_idx {index} is outside the dataset ({dataset_size})")


def read_log(path, dtype: str) -> List[Tuple[int, np.ndarray]]:
    """mlperf_log_accuracy.json -> (qsl_idx, token ids) per sample, first response of each index kept
    (the reference de-duplicates the same way), in log order."""
    try:
        with open(path, encoding="utf-8") as handle:
            entries = json.load(handle)
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot read {path}: {exc}") from None
    seen, out = set(), []
    for entry in entries:
        index = int(entry["qsl_idx"])
        if index in seen:
            continue
        seen.add(index)
        out.append((index, np.frombuffer(bytes.fromhex(entry["data"]), np.dtype(dtype))))
    return out


def _sentences():
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    return PunktSentenceTokenizer()


def postprocess(texts: Sequence[str]) -> List[str]:
    """The reference's postprocess_text: strip, then one sentence per line."""
    splitter = _sentences()
    return ["\n".join(splitter.tokenize(text.strip())) for text in texts]


def rouge(predictions: Sequence[str], references: Sequence[str]) -> Dict[str, float]:
    """{rouge1, rouge2, rougeL, rougeLsum}: mean F-measure x 100, rounded to 4 places."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    scores = [scorer.score(ref, pred) for ref, pred in zip(references, predictions)]
    return {kind: round(float(np.mean([s[kind].fmeasure for s in scores])) * 100, 4) if scores else 0.0
            for kind in ROUGE_TYPES}


def result_text(result: Dict[str, object]) -> str:
    """The dict line the reference prints (the checker's ACC_PATTERN reads ``'rouge1': ...``)."""
    return repr({k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in result.items()})
