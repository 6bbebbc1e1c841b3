"""Word error rate of the rnnt transcripts in LoadGen's accuracy log, as the reference's
``accuracy_eval.py`` (``pytorch/helpers.py``, ``metrics.py``) computes it.

Each entry's data is int64 label ids (indices into LABELS); they are joined into text and
compared with the normalised manifest transcript word by word: WER = the sum over utterances
of the word-level Levenshtein distance / the sum of reference words. Entries are
de-duplicated by qsl_idx (the first wins; an accuracy run logs each once). accuracy.txt holds
the reference's line ``Word Error Rate: X%, accuracy=Y%`` (Python's float formatting, as
``"{:}".format``), which the v4.x submission checker reads (``accuracy=([\\d.]+)%``).

    python -m mlperf_harness.models.rnnt.accuracy --log FILE --dataset-path DIR [--count N]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Optional, Sequence

from mlperf_harness.errors import HarnessError
from mlperf_harness.models.common import accuracy_main, accuracy_parser
from mlperf_harness.models.resnet50.accuracy import SampleResults
from mlperf_harness.models.rnnt import LABELS


def levenshtein(a: Sequence[str], b: Sequence[str]) -> int:
    """Edit distance between two word lists (substitution, insertion, deletion: 1 each)."""
    previous = list(range(len(b) + 1))
    for i, word in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other)))
        previous = current
    return previous[-1]


@dataclass
class WerResult:
    errors: int
    words: int
    utterances: int
    duplicates: int = 0

    @property
    def wer(self) -> float:
        return self.errors / self.words if self.words else 0.0

    def line(self) -> str:
        return "Word Error Rate: {:}%, accuracy={:}%".format(self.wer * 100, (1 - self.wer) * 100)

    def accuracy_txt(self) -> str:
        return self.line() + "\n"


def evaluate(log_path, dataset, expect_total: Optional[int] = None) -> WerResult:
    """Score the log against ``dataset`` (a LibriSpeechDataset; qsl_idx = its utterance index)."""
    errors, words, samples = 0, 0, 0
    results = SampleResults(log_path, len(dataset), f"{len(dataset)} utterances", "<i8")
    for index, ids in results:
        samples += 1
        if ids.size and (ids.min() < 0 or ids.max() >= len(LABELS)):
            raise HarnessError(f"{log_path}: entry qsl_idx={index} holds ids outside the {len(LABELS)} labels")
        hypothesis = "".join(LABELS[i] for i in ids).split()
        reference = dataset.transcripts[index].split()
        errors += levenshtein(hypothesis, reference)
        words += len(reference)
    if expect_total is not None and samples != expect_total:
        raise HarnessError(f"{log_path}: covers {samples} utterances, expected {expect_total}")
    return WerResult(errors, words, samples, results.duplicates)


def score(log_path, dataset, expect_total: Optional[int] = None) -> WerResult:
    return evaluate(log_path, dataset, expect_total=expect_total)


def main(argv=None) -> int:
    from mlperf_harness.models.rnnt.dataset import MANIFEST, LibriSpeechDataset

    parser = accuracy_parser("rnnt", "LibriSpeech word error rate from mlperf_log_accuracy.json",
                             f"folder with {MANIFEST}", "utterances the run used (default: all)")
    return accuracy_main(parser, argv, lambda args: evaluate(
        args.log, LibriSpeechDataset.open(args.dataset_path, args.count), expect_total=args.count))


if __name__ == "__main__":
    sys.exit(main())
