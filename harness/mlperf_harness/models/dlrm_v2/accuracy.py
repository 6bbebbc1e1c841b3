"""AUC of the dlrm-v2 predictions in LoadGen's accuracy log, as the reference's
``tools/accuracy-dlrm.py --dtype float32`` computes it.

Each entry's data is float32 ``[prob, label]`` per row of one aggregated sample (the SUT
answers with the ground truth, so no day_23 file is needed). Entries are de-duplicated by
qsl_idx (the first wins); the AUC is ``sklearn.metrics.roc_auc_score(labels, probs)`` over
every row, the accuracy the share of rows with ``round(prob) == label``. accuracy.txt holds
the reference's line ``AUC=xx.xxx%, accuracy=xx.xxx%, good=G, total=T, queries=Q``, which the
submission checker reads (``AUC=([\\d\\.]+).*``).

    python -m mlperf_harness.models.dlrm_v2.accuracy --log FILE --dataset-path DIR [--count N]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np

from mlperf_harness.errors import HarnessError
from mlperf_harness.models.common import accuracy_main, accuracy_parser
from mlperf_harness.models.resnet50.accuracy import SampleResults


@dataclass
class AucResult:
    auc: float
    good: int
    total: int
    queries: int
    duplicates: int = 0

    def line(self) -> str:
        return (f"AUC={100.0 * self.auc:.3f}%, accuracy={100.0 * self.good / max(self.total, 1):.3f}%, "
                f"good={self.good}, total={self.total}, queries={self.queries}")

    def accuracy_txt(self) -> str:
        return self.line() + "\n"


def evaluate(log_path, dataset=None, expect_total: Optional[int] = None) -> AucResult:
    """Score the log; with ``dataset`` (a CriteoDataset) each sample's row count is checked."""
    from sklearn.metrics import roc_auc_score

    results = SampleResults(log_path, None if dataset is None else len(dataset), "dataset", "<f4")
    probs, labels, samples = [], [], 0
    for index, data in results:
        samples += 1
        if data.size % 2:
            raise HarnessError(f"{log_path}: entry qsl_idx={index} is not [prob, label] pairs")
        data = data.reshape(-1, 2)
        if dataset is not None:
            rows = dataset.rows(index)
            if data.shape[0] != rows.stop - rows.start:
                raise HarnessError(f"{log_path}: sample {index} has {data.shape[0]} rows, the dataset "
                                   f"{rows.stop - rows.start}")
        probs.append(data[:, 0])
        labels.append(data[:, 1])
    if expect_total is not None and samples != expect_total:
        raise HarnessError(f"{log_path}: covers {samples} samples, expected {expect_total}")
    if not samples:
        raise HarnessError(f"{log_path}: no samples")
    prob, label = np.concatenate(probs), np.concatenate(labels)
    if len(np.unique(label)) < 2:
        raise HarnessError(f"{log_path}: the labels hold one class only; AUC is undefined")
    good = int(np.count_nonzero(prob.round() == label))
    return AucResult(float(roc_auc_score(label, prob)), good, int(prob.size), samples, results.duplicates)


def score(log_path, dataset, expect_total: Optional[int] = None) -> AucResult:
    return evaluate(log_path, dataset, expect_total=expect_total)


def main(argv=None) -> int:
    from mlperf_harness.models.dlrm_v2.dataset import DENSE, CriteoDataset

    parser = accuracy_parser("dlrm_v2", "dlrm-v2 AUC from mlperf_log_accuracy.json",
                             f"multi-hot Criteo folder with {DENSE}", "samples the run used (default: all)")
    parser.add_argument("--samples-to-aggregate", type=int, help="as --dataset-args samples_to_aggregate")
    return accuracy_main(parser, argv, lambda args: evaluate(
        args.log, CriteoDataset.open(args.dataset_path, args.count,
                                     samples_to_aggregate=args.samples_to_aggregate),
        expect_total=args.count))


if __name__ == "__main__":
    sys.exit(main())
