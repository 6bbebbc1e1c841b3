"""sdxl accuracy, as the reference's ``tools/accuracy_coco.py``: the accuracy log's images (uint8 HWC,
first response per qsl_idx), CLIP score against each sample's caption and FID against the reference
statistics (metrics.py), printed as the reference prints them: ``Accuracy Results: {'FID_SCORE': ...,
'CLIP_SCORE': ...}`` (the submission checker reads ``'FID_SCORE'`` and ``'CLIP_SCORE'``). The
reference hard-codes 1024x1024x3; the image side here is read from each response's size (square RGB).

    python -m mlperf_harness.models.sdxl.accuracy --log mlperf_log_accuracy.json --dataset-path DIR \\
        --model-path CHECKPOINT [--statistics val2014.npz] [--count N]
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from mlperf_harness.errors import HarnessError


@dataclass
class ImageScores:
    values: Dict[str, float]

    def line(self) -> str:
        return f"Accuracy Results: {self.values!r}"

    def accuracy_txt(self) -> str:
        return self.line() + "\n"

    def __getitem__(self, key):
        return self.values[key]


def read_images(path) -> List[Tuple[int, np.ndarray]]:
    """(qsl_idx, HxWx3 uint8 image) per sample, first response of each index (the LLMs' log reader)."""
    from mlperf_harness.llm.rouge import read_log

    out = []
    for index, data in read_log(path, "uint8"):
        side = math.isqrt(data.size // 3)
        if side * side * 3 != data.size or side == 0:
            raise HarnessError(f"{path}: qsl_idx {index}: {data.size} bytes is not a square RGB image")
        out.append((index, data.reshape(side, side, 3)))
    return out


def score(log_path, dataset, expect_total: Optional[int] = None, device: str = "cpu") -> ImageScores:
    from mlperf_harness.models.sdxl import metrics

    from mlperf_harness.llm.rouge import check_entries

    entries = read_images(log_path)
    check_entries(log_path, entries, len(dataset.captions), expect_total)
    folder = metrics.accuracy_models(dataset.model_path or ".")
    clip = metrics.ClipScore(folder / metrics.CLIP_FOLDER, device)
    clip_scores = [clip.score(dataset.captions[index], image) for index, image in entries]
    extractor = metrics.FidFeatures(folder / metrics.FID_EXTRACTOR, device)
    fid = metrics.fid([image for _, image in entries], extractor, dataset.statistics)
    return ImageScores({"FID_SCORE": fid, "CLIP_SCORE": float(np.mean(clip_scores))})


def main(argv=None) -> int:
    from mlperf_harness.models.common import accuracy_main, accuracy_parser
    from mlperf_harness.models.sdxl.dataset import CocoCaptions

    parser = accuracy_parser("sdxl", "sdxl CLIP score and FID from mlperf_log_accuracy.json",
                             "the coco-2014 folder (captions/captions.tsv)", "samples the run used (default: any)")
    parser.add_argument("--model-path", required=True, help="the checkpoint folder (accuracy-models/ beside it)")
    parser.add_argument("--statistics", help="FID reference statistics (default: DATASET/val2014.npz)")

    def run(args):
        dataset = CocoCaptions.open(Path(args.dataset_path), model_path=args.model_path, statistics=args.statistics)
        return score(args.log, dataset, expect_total=args.count)

    return accuracy_main(parser, argv, run)


if __name__ == "__main__":
    sys.exit(main())
