"""mAP of the retinanet detections in LoadGen's accuracy log, as the reference's
``tools/accuracy-openimages.py`` computes it (pycocotools COCOeval, bbox).

Each entry's data is float32 rows of 7: ``[qsl_idx, ymin, xmin, ymax, xmax, score, label]``
with the box in 0..1; fewer than 7 values means no detection for that image (it still
counts). Entries are de-duplicated by qsl_idx (the first wins); qsl_idx indexes the
annotation json's ``images``; boxes are scaled by that image's height and width into
COCO's ``[x, y, w, h]``; COCOeval runs over the images in the log. accuracy.txt holds
COCOeval's summary and then ``mAP=XX.XXX%``, the line the submission checker reads
(``mAP=([\\d.]+)``).

    python -m mlperf_harness.models.retinanet.accuracy --log FILE --dataset-path DIR [--count N]
"""

from __future__ import annotations

import contextlib
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from mlperf_harness.errors import HarnessError
from mlperf_harness.models.common import accuracy_main, accuracy_parser
from mlperf_harness.models.resnet50.accuracy import SampleResults
from mlperf_harness.models.retinanet.dataset import ANNOTATIONS, read_annotations


@dataclass
class MapResult:
    mean_ap: float  # COCOeval stats[0], 0..1
    images: int
    detections: int
    no_results: int = 0
    duplicates: int = 0
    summary: str = ""  # COCOeval.summarize()'s table

    def line(self) -> str:
        return f"mAP={100.0 * self.mean_ap:.3f}%"

    def accuracy_txt(self) -> str:
        return (self.summary.rstrip("\n") + "\n" if self.summary else "") + self.line() + "\n"


def detections_from_log(log_path, images: List[dict], expect_total: Optional[int] = None):
    """The log's detections as pycocotools wants them, plus the image ids it covers."""
    detections, image_ids, no_results = [], [], 0
    results = SampleResults(log_path, len(images), f"{len(images)} images", "<f4")
    for index, data in results:
        image = images[index]
        image_ids.append(image["id"])
        if len(data) < 7:
            no_results += 1
            continue
        if len(data) % 7:
            raise HarnessError(f"{log_path}: entry qsl_idx={index} holds {len(data)} floats, "
                               "not rows of 7")
        height, width = image["height"], image["width"]
        for row in data.reshape(-1, 7):
            payload_idx, ymin, xmin, ymax, xmax, score, label = (float(v) for v in row)
            if int(payload_idx) != index:
                raise HarnessError(f"{log_path}: loadgen ({index}) and payload ({int(payload_idx)})"
                                   " disagree on the image index")
            ymin, xmin, ymax, xmax = ymin * height, xmin * width, ymax * height, xmax * width
            detections.append({"image_id": image["id"], "category_id": int(label),
                               "bbox": [xmin, ymin, xmax - xmin, ymax - ymin], "score": score})
    if expect_total is not None and len(image_ids) != expect_total:
        raise HarnessError(f"{log_path}: covers {len(image_ids)} images, expected {expect_total}")
    return detections, image_ids, no_results, results.duplicates


def evaluate(log_path, annotation_file, expect_total: Optional[int] = None) -> MapResult:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images = read_annotations(Path(annotation_file).parents[1])["images"]
    detections, image_ids, no_results, duplicates = detections_from_log(
        log_path, images, expect_total)
    chatter = io.StringIO()  # pycocotools prints progress; keep only the summary table
    with contextlib.redirect_stdout(chatter):
        ground_truth = COCO(str(annotation_file))
        if not detections:  # loadRes cannot take an empty list; nothing detected scores 0
            return MapResult(0.0, len(image_ids), 0, no_results, duplicates)
        evaluation = COCOeval(ground_truth, ground_truth.loadRes(detections), iouType="bbox")
        evaluation.params.imgIds = sorted(set(image_ids))
        evaluation.evaluate()
        evaluation.accumulate()
    table = io.StringIO()
    with contextlib.redirect_stdout(table):
        evaluation.summarize()
    return MapResult(float(evaluation.stats[0]), len(image_ids), len(detections), no_results,
                     duplicates, table.getvalue())


def score(log_path, dataset, expect_total: Optional[int] = None) -> MapResult:
    """Score the accuracy log of a run on ``dataset`` (an OpenImagesDataset)."""
    return evaluate(log_path, dataset.annotation_file, expect_total=expect_total)


def main(argv=None) -> int:
    parser = accuracy_parser("retinanet", "OpenImages mAP (pycocotools) from mlperf_log_accuracy.json",
                             f"folder with {ANNOTATIONS}", "images the run used (default: any)")
    return accuracy_main(parser, argv, lambda args: evaluate(
        args.log, Path(args.dataset_path) / ANNOTATIONS, expect_total=args.count))


if __name__ == "__main__":
    sys.exit(main())
