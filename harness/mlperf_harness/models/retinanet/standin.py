"""A retinanet stand-in: a tiny model with resnext50_32x4d_fpn.onnx's input and outputs
(``images`` [1,3,800,800] -> ``boxes`` [N,4], ``labels`` [N] int64, ``scores`` [N]) and an
OpenImages-layout dataset whose mAP, computed by pycocotools, is known exactly.

Dataset: ``annotations/openimages-mlperf.json`` (COCO style, the reference's 264
categories by index) + ``validation/data/<name>.jpg``. Image ``i`` is one uniform colour
at a varied, non-square size; its red and green levels are multiples of 16 that encode
``i`` (R = 16*(i // 16), G = 16*(i % 16)), which survives JPEG, the 800x800 resize and
/255. It has one ground-truth box of its own category ``i``.

Model: the channel means * 255/16, rounded -> (a, b) -> image index 16a + b -> row of
constant tables of detections (boxes in 800x800 input pixels, sorted by score, as the
real model). Image ``i`` is "correct" iff round_half_up((i+1)f) - round_half_up(i f) == 1
(so any prefix of c images has round_half_up(c f) correct). Correct: its ground-truth box
and category, score 0.9 (IoU ~1, AP 1 for that category). Otherwise, alternately: the
box with a category no image has (the image's own category gets AP 0; the other is not
evaluated), or its box and category at score 0.04 followed by a 0.9 one (the reference
stops at the first score under 0.05, so the image has no detections and AP 0). COCO's
mAP is the mean AP over the categories with ground truth: correct / n exactly.

- onnxruntime: ``resnext50_32x4d_fpn.onnx`` (opset 13).
- pytorch: ``resnext50_32x4d_fpn.pth``, TorchScript returning a list with one dict
  ``{boxes, labels, scores}`` per image, as the torchvision-style reference model.

    python -m mlperf_harness.models.retinanet.standin OUT_DIR [--backend NAME] [--samples N] [--map F] [--seed S]
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from mlperf_harness.models.resnet50.standin import (compile_torch_source, correct_count,
                                                    torchscript_bytes)
from mlperf_harness.models.retinanet.dataset import ANNOTATIONS, IMAGES, SIZE
from mlperf_harness.standin_cli import main as standin_main, onnx_model, prepare, write_expected

VERSION = 1
CATEGORIES = 264  # the MLPerf OpenImages subset's classes
MAX_IMAGES = 128  # own categories 0..127, "wrong" categories from 263 down
ROWS = 3  # detections per image in the tables (padding rows have score 0)
MODEL_FILES = {"onnxruntime": "resnext50_32x4d_fpn.onnx", "pytorch": "resnext50_32x4d_fpn.pth"}
LEVEL_WEIGHTS = np.array([16.0, 1.0, 0.0], dtype=np.float32)  # (R, G, B) levels -> index


def colour(i: int) -> Tuple[int, int, int]:
    return 16 * (i // 16), 16 * (i % 16), 16 * ((7 * i) % 16)


def build_onnx(boxes: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> onnx.ModelProto:
    last = float(boxes.shape[0] - 1)
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["means"], axes=[0, 2, 3], keepdims=0),
        helper.make_node("Mul", ["means", "to_levels"], ["scaled"]),
        helper.make_node("Round", ["scaled"], ["levels"]),
        helper.make_node("Mul", ["levels", "level_weights"], ["weighted"]),
        helper.make_node("ReduceSum", ["weighted"], ["index_f"], keepdims=0),
        helper.make_node("Clip", ["index_f", "first", "last"], ["index_c"]),
        helper.make_node("Cast", ["index_c"], ["index"], to=TensorProto.INT64),
        helper.make_node("Gather", ["box_table", "index"], ["boxes"], axis=0),
        helper.make_node("Gather", ["label_table", "index"], ["labels"], axis=0),
        helper.make_node("Gather", ["score_table", "index"], ["scores"], axis=0),
    ]
    constants = {"to_levels": np.array(255.0 / 16.0, dtype=np.float32),
                 "level_weights": LEVEL_WEIGHTS, "first": np.array(0.0, dtype=np.float32),
                 "last": np.array(last, dtype=np.float32), "box_table": boxes,
                 "label_table": labels, "score_table": scores}
    graph = helper.make_graph(
        nodes, "retinanet_standin",
        inputs=[helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        outputs=[helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [ROWS, 4]),
                 helper.make_tensor_value_info("labels", TensorProto.INT64, [ROWS]),
                 helper.make_tensor_value_info("scores", TensorProto.FLOAT, [ROWS])],
        initializer=[numpy_helper.from_array(v, k) for k, v in constants.items()])
    return onnx_model(graph, 13, 7, "retinanet", VERSION,
                      "Synthetic stand-in with resnext50_32x4d_fpn.onnx's signature; not a real model.")


_TORCH_SOURCE = """
from typing import Dict, List

import torch


class RetinaNetStandin(torch.nn.Module):
    def __init__(self, boxes, labels, scores, weights):
        super().__init__()
        self.register_buffer("boxes", boxes)
        self.register_buffer("labels", labels)
        self.register_buffer("scores", scores)
        self.register_buffer("weights", weights)

    def forward(self, images: torch.Tensor) -> List[Dict[str, torch.Tensor]]:
        levels = torch.round(images.mean(dim=(0, 2, 3)) * (255.0 / 16.0))
        index = int(torch.clamp((levels * self.weights).sum(), 0, self.boxes.shape[0] - 1))
        return [{"boxes": self.boxes[index], "labels": self.labels[index],
                 "scores": self.scores[index]}]
"""


def build_torchscript(boxes, labels, scores) -> bytes:
    import torch

    namespace = compile_torch_source(_TORCH_SOURCE, "mlperf_docker_standins/retinanet_torch.py")
    module = namespace["RetinaNetStandin"](*(torch.from_numpy(a.copy()) for a in
                                             (boxes, labels, scores, LEVEL_WEIGHTS)))
    return torchscript_bytes(module)


def model_bytes(backend: str, tables) -> bytes:
    if backend == "onnxruntime":
        return build_onnx(*tables).SerializeToString(deterministic=True)
    if backend == "pytorch":
        return build_torchscript(*tables)
    raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(MODEL_FILES)}")


def design(n_images: int, fraction: float, seed: int):
    """Images (size, ground-truth box) and the model's detection tables."""
    rng = np.random.default_rng([seed, 0x0DE7])
    boxes = np.zeros((n_images, ROWS, 4), dtype=np.float32)
    labels = np.zeros((n_images, ROWS), dtype=np.int64)
    scores = np.zeros((n_images, ROWS), dtype=np.float32)
    images, good = [], 0
    for i in range(n_images):
        width, height = int(rng.integers(200, 481)), int(rng.integers(160, 401))
        w, h = int(rng.integers(20, width // 2)), int(rng.integers(20, height // 2))
        x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
        images.append({"width": width, "height": height, "bbox": [x, y, w, h]})
        box = np.array([x * SIZE / width, y * SIZE / height, (x + w) * SIZE / width,
                        (y + h) * SIZE / height], dtype=np.float32)
        boxes[i, :2] = box
        labels[i, :2] = i
        if correct_count(i + 1, fraction) - correct_count(i, fraction) == 1:
            good += 1
            scores[i, 0] = 0.9
        elif (i - good) % 2 == 0:  # a category no image has
            labels[i, 0], scores[i, 0] = CATEGORIES - 1 - i, 0.8
        else:  # under the threshold, then a hit the reference never reads
            scores[i, :2] = 0.04, 0.9
    return images, (boxes, labels, scores), good


def export_model(path, backend: str, n_samples: int = 16, fraction: float = 0.75,
                 seed: int = 0) -> Path:
    """Write just the model for ``backend`` (the tables ``generate`` uses) to ``path``."""
    _, tables, _ = design(n_samples, fraction, seed)
    path = Path(path)
    path.write_bytes(model_bytes(backend, tables))
    return path


def generate(out_dir: Path, n_samples: int = 16, map_fraction: float = 0.75, seed: int = 0,
             backend: str = "onnxruntime") -> Dict:
    """Write the stand-in model (``backend``'s format), dataset and expected.json under ``out_dir``."""
    if n_samples > MAX_IMAGES:
        raise ValueError(f"at most {MAX_IMAGES} stand-in images")
    out_dir = Path(out_dir)
    model_dir, data_dir = prepare(out_dir, backend, MODEL_FILES, ("n_samples", n_samples),
                                  ("map_fraction", map_fraction))
    images, tables, good = design(n_samples, map_fraction, seed)
    model_path = model_dir / MODEL_FILES[backend]
    model_path.write_bytes(model_bytes(backend, tables))

    (data_dir / IMAGES).mkdir(parents=True, exist_ok=True)
    (data_dir / ANNOTATIONS).parent.mkdir(parents=True, exist_ok=True)
    listed, annotations = [], []
    for i, image in enumerate(images):
        name = f"{0xA000 + i:016x}.jpg"  # OpenImages ids are 16 hex digits
        pixels = Image.new("RGB", (image["width"], image["height"]), colour(i))
        buf = io.BytesIO()
        pixels.save(buf, "JPEG", quality=95)
        (data_dir / IMAGES / name).write_bytes(buf.getvalue())
        listed.append({"id": i + 1, "file_name": name, "height": image["height"],
                       "width": image["width"], "license": None, "coco_url": None})
        x, y, w, h = image["bbox"]
        annotations.append({"id": i + 1, "image_id": i + 1, "category_id": i,
                            "bbox": [float(x), float(y), float(w), float(h)],
                            "area": float(w * h), "iscrowd": 0})
    coco = {"info": {"dataset": "openimages_mlperf stand-in", "version": str(VERSION)},
            "licenses": [], "images": listed, "annotations": annotations,
            "categories": [{"id": c, "name": f"class {c}", "supercategory": None}
                           for c in range(CATEGORIES)]}
    (data_dir / ANNOTATIONS).write_text(json.dumps(coco, indent=1) + "\n", encoding="utf-8")

    expected = {"mAP": round(100.0 * good / n_samples, 3), "good": good, "total": n_samples,
                "generator": "retinanet", "version": VERSION, "backend": backend}
    return write_expected(out_dir, model_path, data_dir, expected)


def main(argv=None) -> int:
    return standin_main("python -m mlperf_harness.models.retinanet.standin",
                        "Write the retinanet stand-in model and dataset.", MODEL_FILES,
                        ("--samples", 16, "synthetic images (at most 128)"),
                        ("--map", 0.75, "fraction of images detected correctly (= mAP)"),
                        generate, argv)


if __name__ == "__main__":
    sys.exit(main())
