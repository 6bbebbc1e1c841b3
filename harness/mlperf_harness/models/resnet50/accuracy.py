"""Top-1 accuracy of an ImageNet classifier from LoadGen's accuracy log.

mlperf_log_accuracy.json is a list of {"seq_id", "qsl_idx", "data"}; data is
the response as hex, here one little-endian int32: the predicted label,
already offset-corrected by the harness. Entries are de-duplicated by
qsl_idx (the first wins) and compared with val_map.txt's labels. The result
line ``accuracy=75.000%, good=225, total=300`` is what the submission
checker matches with ``accuracy=([\\d\\.]+)``.

    python -m mlperf_harness.models.resnet50.accuracy --log FILE --dataset-path DIR [--count N]
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from mlperf_harness.models.resnet50.dataset import read_labels
from mlperf_harness.errors import HarnessError


@dataclass
class AccuracyResult:
    good: int
    total: int
    duplicates: int = 0

    @property
    def percent(self) -> float:
        return 100.0 * self.good / self.total if self.total else 0.0

    def line(self) -> str:
        return f"accuracy={self.percent:.3f}%, good={self.good}, total={self.total}"

    def accuracy_txt(self) -> str:
        return self.line() + "\n"


def load_log(path) -> list:
    path = Path(path)
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"{path} not found") from None
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{path}: not a readable accuracy log ({exc})") from None
    if not isinstance(entries, list):
        raise HarnessError(f"{path}: expected a JSON list of results")
    return entries


class SampleResults:
    """The accuracy log's (qsl_idx, data) pairs, first entry per sample: an index must lie in
    [0, count) (``count`` None: any index >= 0), a repeated one is skipped and counted in
    ``duplicates``, and the hex data is read as ``dtype``."""

    def __init__(self, path, count: Optional[int], what: str, dtype: str):
        self.path, self.count, self.what, self.dtype = path, count, what, np.dtype(dtype)
        self.duplicates = 0

    def __iter__(self):
        seen = set()
        for entry in load_log(self.path):
            index = entry.get("qsl_idx") if isinstance(entry, dict) else None
            if not isinstance(index, int) or index < 0 or (self.count is not None and index >= self.count):
                raise HarnessError(f"{self.path}: qsl_idx {index!r} outside the {self.what}")
            if index in seen:
                self.duplicates += 1
                continue
            seen.add(index)
            try:
                data = np.frombuffer(bytes.fromhex(entry["data"]), dtype=self.dtype)
            except (KeyError, TypeError, ValueError):
                raise HarnessError(f"{self.path}: entry qsl_idx={index} has no valid {self.dtype.name} data") from None
            yield index, data


def decode_label(entry: dict, path) -> int:
    try:
        raw = bytes.fromhex(entry["data"])
    except (KeyError, TypeError, ValueError):
        raise HarnessError(f"{path}: entry seq_id={entry.get('seq_id')} has no valid hex data") from None
    if len(raw) != 4:
        raise HarnessError(
            f"{path}: entry qsl_idx={entry.get('qsl_idx')} holds {len(raw)} bytes, "
            "expected one int32 label")
    return int(np.frombuffer(raw, dtype="<i4")[0])


def evaluate(log_path, labels: Sequence[int], expect_total: Optional[int] = None) -> AccuracyResult:
    """Score the log against ``labels`` (index = qsl_idx)."""
    entries = load_log(log_path)
    seen = set()
    good = duplicates = 0
    for entry in entries:
        if not isinstance(entry, dict) or "qsl_idx" not in entry:
            raise HarnessError(f"{log_path}: malformed entry {entry!r:.80}")
        index = entry["qsl_idx"]
        if not isinstance(index, int) or not 0 <= index < len(labels):
            raise HarnessError(
                f"{log_path}: qsl_idx {index!r} outside the {len(labels)} labelled samples")
        if index in seen:
            duplicates += 1
            continue
        seen.add(index)
        if decode_label(entry, log_path) == labels[index]:
            good += 1
    if expect_total is not None and len(seen) != expect_total:
        raise HarnessError(
            f"{log_path}: covers {len(seen)} samples, expected {expect_total}")
    return AccuracyResult(good=good, total=len(seen), duplicates=duplicates)


def score(log_path, dataset, expect_total: Optional[int] = None) -> AccuracyResult:
    """Score the accuracy log of a run on ``dataset`` (an ImagenetDataset)."""
    return evaluate(log_path, dataset.labels, expect_total=expect_total)


def _note_duplicates(args, result: AccuracyResult) -> None:
    if result.duplicates:
        print(f"note: ignored {result.duplicates} duplicate result(s)", file=sys.stderr)


def main(argv=None) -> int:
    from mlperf_harness.models.common import accuracy_main, accuracy_parser

    parser = accuracy_parser("resnet50", "ImageNet top-1 accuracy from mlperf_log_accuracy.json",
                             "folder with val_map.txt", "samples the run used (default: all)")
    return accuracy_main(parser, argv, lambda args: evaluate(
        args.log, read_labels(args.dataset_path, args.count), expect_total=args.count),
        after=_note_duplicates)


if __name__ == "__main__":
    sys.exit(main())
