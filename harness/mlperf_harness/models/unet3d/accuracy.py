"""Mean DICE of the 3d-unet segmentations in LoadGen's accuracy log, as the reference's
``accuracy_kits.py`` computes it.

Each entry's data is the uint8 segmentation of one case, shaped as the case's
``image_shape`` in preprocessed_files.pkl. Entries are de-duplicated by qsl_idx (the
first wins). Per case and per class (1 kidney, 2 tumor; background dropped):
``(2 |pred & truth| + 1e-6) / (|pred| + |truth| + 1e-6)`` -- the reference's one-hot
sums, counted directly -- and the composite is the mean of the two. The result is
the mean over the cases of each, printed as the reference prints it; accuracy.txt holds
one line per case and then ``Accuracy: mean = X, kidney = Y, tumor = Z``, the line the
submission checker reads (``Accuracy: mean = ([\\d.]+)``).

    python -m mlperf_harness.models.unet3d.accuracy --log FILE --dataset-path DIR [--count N]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from mlperf_harness.errors import HarnessError
from mlperf_harness.models.common import accuracy_main, accuracy_parser
from mlperf_harness.models.resnet50.accuracy import load_log

SMOOTH = 1e-6


def dice_scores(prediction: np.ndarray, truth: np.ndarray) -> Tuple[float, float]:
    """(kidney, tumor) DICE of one case, as accuracy_kits.get_dice_score."""
    if prediction.shape != truth.shape:
        raise HarnessError(f"prediction {prediction.shape} and ground truth {truth.shape} differ")
    scores = []
    for label in (1, 2):
        pred, true = prediction == label, truth == label
        intersection = float(np.count_nonzero(pred & true))
        total = float(np.count_nonzero(true)) + float(np.count_nonzero(pred))
        scores.append((2.0 * intersection + SMOOTH) / (total + SMOOTH))
    return scores[0], scores[1]


@dataclass
class DiceResult:
    cases: Dict[str, Tuple[float, float]] = field(default_factory=dict)  # case -> (kidney, tumor)
    duplicates: int = 0

    def means(self) -> Tuple[float, float, float]:
        """(composite, kidney, tumor) means over the cases."""
        if not self.cases:
            return 0.0, 0.0, 0.0
        values = np.array(list(self.cases.values()), dtype=np.float64)
        return float(values.mean(axis=1).mean()), float(values[:, 0].mean()), float(values[:, 1].mean())

    def line(self) -> str:
        composite, kidney, tumor = self.means()
        return f"Accuracy: mean = {composite:.5f}, kidney = {kidney:.4f}, tumor = {tumor:.4f}"

    def accuracy_txt(self) -> str:
        rows: List[str] = [f"{case}: kidney = {k:.5f}, tumor = {t:.5f}, composite = {(k + t) / 2:.5f}"
                           for case, (k, t) in self.cases.items()]
        return "\n".join(rows + [self.line()]) + "\n"


def evaluate(log_path, dataset, expect_total: Optional[int] = None) -> DiceResult:
    """Score the log against ``dataset`` (a Kits19Dataset; qsl_idx = its case index)."""
    result = DiceResult()
    seen = set()
    for entry in load_log(log_path):
        index = entry.get("qsl_idx") if isinstance(entry, dict) else None
        if not isinstance(index, int) or not 0 <= index < len(dataset):
            raise HarnessError(f"{log_path}: qsl_idx {index!r} outside the {len(dataset)} cases")
        if index in seen:
            result.duplicates += 1
            continue
        seen.add(index)
        case = dataset.cases[index]
        shape = dataset.shapes[case]
        try:
            raw = bytes.fromhex(entry["data"])
        except (KeyError, TypeError, ValueError):
            raise HarnessError(f"{log_path}: entry qsl_idx={index} has no valid hex data") from None
        if len(raw) != int(np.prod(shape)):
            raise HarnessError(f"{log_path}: {case} holds {len(raw)} bytes, expected a uint8 "
                               f"volume of shape {shape}")
        prediction = np.frombuffer(raw, dtype=np.uint8).reshape(shape)
        result.cases[case] = dice_scores(prediction, dataset.label(index))
    if expect_total is not None and len(seen) != expect_total:
        raise HarnessError(f"{log_path}: covers {len(seen)} cases, expected {expect_total}")
    result.cases = dict(sorted(result.cases.items()))
    return result


def score(log_path, dataset, expect_total: Optional[int] = None) -> DiceResult:
    return evaluate(log_path, dataset, expect_total=expect_total)


def main(argv=None) -> int:
    from mlperf_harness.models.unet3d.dataset import INDEX, Kits19Dataset

    parser = accuracy_parser("unet3d", "KiTS19 mean DICE from mlperf_log_accuracy.json",
                             f"folder with {INDEX}", "cases the run used (default: all)")
    return accuracy_main(parser, argv, lambda args: evaluate(
        args.log, Kits19Dataset.open(args.dataset_path, args.count), expect_total=args.count))


if __name__ == "__main__":
    sys.exit(main())
