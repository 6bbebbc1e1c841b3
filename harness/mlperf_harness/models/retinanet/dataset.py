"""The OpenImages MLPerf validation subset, laid out as the reference's tools make it.

Layout (``tools/openimages_mlperf.sh``; what ``tools/accuracy-openimages.py`` reads)::

    <root>/annotations/openimages-mlperf.json   COCO-style: images, annotations, categories
    <root>/validation/data/<file_name>          the JPEGs named by the json's images

Sample ``i`` is the json's ``images[i]`` (the accuracy script indexes ``images`` by
qsl_idx), so every listed image must be present: a missing one is an error naming it
(the reference silently skips it, which shifts every later index).

Preprocessing as the reference's ``pre_process_openimages_retinanet`` for the 800x800
models: decode to RGB, float32, resize to 800x800 with OpenCV's INTER_LINEAR, divide
by 255, channels first (the ONNX and PyTorch models normalise inside). The resize is
OpenCV's bilinear rule (half-pixel centres, edge clamped, separable in float32)
computed with numpy, so the image needs no OpenCV.

``cache_dir`` (--dataset_args cache_dir=DIR) keeps each preprocessed sample as
``DIR/<file_name>.npy`` (the reference's cache), reused by later runs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from mlperf_harness.errors import CountError, HarnessError

ANNOTATIONS = "annotations/openimages-mlperf.json"
IMAGES = "validation/data"
SIZE = 800  # the MLPerf retinanet input: 800x800
SAMPLE_SHAPE = (3, SIZE, SIZE)


class DatasetError(HarnessError):
    """A malformed or incomplete OpenImages folder."""


class DatasetCountError(DatasetError, CountError):
    """--count larger than the dataset."""


def _axis(src: int, dst: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV INTER_LINEAR taps along one axis: (left index, right index, right weight)."""
    pos = (np.arange(dst, dtype=np.float64) + 0.5) * (src / dst) - 0.5
    left = np.floor(pos).astype(np.int64)
    frac = (pos - left).astype(np.float32)
    low = left < 0
    left[low], frac[low] = 0, 0.0
    high = left >= src - 1
    left[high], frac[high] = src - 1, 0.0
    return left, np.minimum(left + 1, src - 1), frac


def resize_linear(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)`` for a float32
    HxWxC image: the horizontal pass first, then the vertical one, in float32."""
    src_h, src_w = image.shape[:2]
    x0, x1, fx = _axis(src_w, width)
    y0, y1, fy = _axis(src_h, height)
    fx, fy = fx[None, :, None], fy[:, None, None]
    rows = image[:, x0] * (1.0 - fx) + image[:, x1] * fx
    return rows[y0] * (1.0 - fy) + rows[y1] * fy


def preprocess(path: Union[str, os.PathLike]) -> np.ndarray:
    """The reference's retinanet preprocessing of one image file -> float32 [3, 800, 800]."""
    with Image.open(path) as img:
        rgb = np.asarray(img.convert("RGB"), dtype=np.float32)
    resized = resize_linear(rgb, SIZE, SIZE)
    resized /= 255.0
    return np.ascontiguousarray(resized.transpose(2, 0, 1), dtype=np.float32)


def read_annotations(root: Union[str, os.PathLike]) -> dict:
    """The COCO-style json of an OpenImages folder, checked for what the harness uses."""
    path = Path(root) / ANNOTATIONS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: not found (an OpenImages folder needs {ANNOTATIONS} "
                           f"and the images under {IMAGES}/)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read it ({exc})") from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list) or not images:
        raise DatasetError(f"{path}: no 'images' listed")
    for number, image in enumerate(images):
        if not isinstance(image, dict) or not {"id", "file_name", "height", "width"} <= set(image):
            raise DatasetError(f"{path}: images[{number}] needs id, file_name, height and width")
        name = str(image["file_name"])
        if os.path.isabs(name) or ".." in Path(name).parts:
            raise DatasetError(f"{path}: images[{number}]: file_name {name!r} must be relative")
    if not isinstance(data.get("annotations"), list) or not isinstance(data.get("categories"), list):
        raise DatasetError(f"{path}: needs 'annotations' and 'categories' lists (COCO format)")
    return data


@dataclass
class OpenImagesDataset:
    """The first ``count`` images of an OpenImages MLPerf folder."""

    root: Path
    files: Sequence[Path]
    cache_dir: Optional[Path] = None

    sample_shape = SAMPLE_SHAPE

    @property
    def annotation_file(self) -> Path:
        return self.root / ANNOTATIONS

    @property
    def sample_spec(self):
        return [(SAMPLE_SHAPE, np.float32)]

    @classmethod
    def open(cls, root: Union[str, os.PathLike], count: Optional[int] = None,
             cache_dir: Optional[Union[str, os.PathLike]] = None,
             **_ignored) -> "OpenImagesDataset":
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"dataset folder {root} does not exist")
        images = read_annotations(root)["images"]
        if count is not None and count > len(images):
            raise DatasetCountError(f"--count {count} exceeds the {len(images)} images listed "
                                    f"in {root / ANNOTATIONS}")
        files: List[Path] = [root / IMAGES / str(i["file_name"]) for i in images[:count]]
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise DatasetError(f"{len(missing)} image(s) listed in {root / ANNOTATIONS} are "
                               f"missing, first: {missing[0]}")
        from mlperf_harness.models.resnet50.dataset import open_cache

        return cls(root=root, files=files, cache_dir=open_cache(cache_dir, "", DatasetError))

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int) -> np.ndarray:
        """Preprocessed image ``index``: float32 [3, 800, 800]."""
        from mlperf_harness.models.resnet50.dataset import cached_sample

        return cached_sample(self.files[index], self.root / IMAGES, self.cache_dir, SAMPLE_SHAPE,
                             preprocess, DatasetError)
