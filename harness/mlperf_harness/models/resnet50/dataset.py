"""ImageNet 2012 validation set, laid out as the MLPerf reference expects.

Layout: a folder holding ``val_map.txt`` and the JPEGs. Each line of
``val_map.txt`` is ``<path relative to the folder> <label>``; the line number
(0-based) is the sample index and the label is 0..999.

Preprocessing matches the reference's resnet50 pipeline (``pre_process_vgg``):
RGB (EXIF orientation applied, as OpenCV's imread does); resize so the
shorter side is 256 (224 / 0.875, the other side truncated
like the reference's ``int()``); centre crop 224x224; float32; subtract the
per-channel means 123.68, 116.78, 103.94; channels first (CHW) for ONNX and
PyTorch, channels last (HWC) for TensorFlow and TFLite (``layout``).

``cache_dir`` (--dataset-args cache_dir=DIR) keeps each preprocessed sample as
``DIR/<layout>/<relative path>.npy`` (as the reference's --cache does), so a
later run skips decoding; files are written atomically and reused as they are.

Resampling: the reference uses OpenCV's INTER_AREA. Pillow's BOX filter is the
area-weighted average over each output pixel's footprint, which is what
INTER_AREA computes when shrinking, so BOX is used for downscaling (nearly all
ImageNet images). When an image must be enlarged INTER_AREA degenerates to
(roughly) bilinear interpolation, so BILINEAR is used there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image, ImageOps

from mlperf_harness.errors import CountError, HarnessError

VAL_MAP = "val_map.txt"
NUM_CLASSES = 1000
MEANS = np.array([123.68, 116.78, 103.94], dtype=np.float32)
CROP = 224
SCALE = 0.875  # reference: scale=87.5 -> shorter side 224 / 0.875 = 256
SAMPLE_SHAPE = (3, CROP, CROP)
LAYOUTS = ("NCHW", "NHWC")


class DatasetError(HarnessError):
    """A malformed or incomplete dataset folder."""


class DatasetCountError(DatasetError, CountError):
    """--count larger than the dataset."""


def _resize_shorter_side(img: Image.Image, target: int) -> Image.Image:
    width, height = img.size
    if height > width:
        new_w, new_h = target, int(target * height / width)
    else:
        new_w, new_h = int(target * width / height), target
    if (new_w, new_h) == (width, height):
        return img
    shrinking = new_w <= width and new_h <= height
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    return img.resize((new_w, new_h), resample=resample)


def preprocess(image: Union[Image.Image, str, os.PathLike]) -> np.ndarray:
    """Reference resnet50 preprocessing; returns float32 [3, 224, 224]."""
    if isinstance(image, Image.Image):
        return _preprocess_image(image)
    with Image.open(image) as opened:
        return _preprocess_image(_upright(opened))


def _upright(img: Image.Image) -> Image.Image:
    """Apply an EXIF orientation tag, as OpenCV's imread (the reference) does."""
    if img.getexif().get(0x0112, 1) not in (0, 1):
        return ImageOps.exif_transpose(img)
    return img


def _preprocess_image(img: Image.Image) -> np.ndarray:
    if img.mode != "RGB":
        img = img.convert("RGB")
    img = _resize_shorter_side(img, int(CROP / SCALE))
    width, height = img.size
    left = int((width - CROP) / 2)
    top = int((height - CROP) / 2)
    img = img.crop((left, top, left + CROP, top + CROP))
    hwc = np.asarray(img, dtype=np.float32)
    hwc = hwc - MEANS
    return np.ascontiguousarray(hwc.transpose(2, 0, 1))


def parse_val_map(path: Union[str, os.PathLike]) -> List[Tuple[str, int]]:
    """Read ``val_map.txt``: a list of (relative path, label), index = line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{path}: not found (an ImageNet folder needs {VAL_MAP})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read: {exc}") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()  # trailing blank lines are harmless
    entries: List[Tuple[str, int]] = []
    for number, line in enumerate(lines, start=1):
        parts = line.rsplit(None, 1)
        if len(parts) != 2:
            raise DatasetError(
                f"{path}:{number}: expected '<relative path> <label>', got {line.strip()!r}")
        rel, label_text = parts[0].strip(), parts[1]
        try:
            label = int(label_text)
        except ValueError:
            raise DatasetError(
                f"{path}:{number}: label {label_text!r} is not an integer") from None
        if not 0 <= label < NUM_CLASSES:
            raise DatasetError(
                f"{path}:{number}: label {label} outside 0..{NUM_CLASSES - 1}")
        if os.path.isabs(rel) or ".." in Path(rel).parts:
            raise DatasetError(
                f"{path}:{number}: path {rel!r} must be relative to the dataset folder")
        entries.append((rel, label))
    if not entries:
        raise DatasetError(f"{path}: no samples listed")
    return entries


def read_labels(dataset_path: Union[str, os.PathLike], count: Optional[int] = None) -> List[int]:
    """The labels of the first ``count`` samples (all when None)."""
    entries = parse_val_map(Path(dataset_path) / VAL_MAP)
    _check_count(dataset_path, len(entries), count)
    return [label for _, label in entries[:count]]


def _check_count(dataset_path, available: int, count: Optional[int]) -> None:
    if count is not None and count > available:
        raise DatasetCountError(
            f"--count {count} exceeds the {available} samples listed in "
            f"{Path(dataset_path) / VAL_MAP}")


@dataclass
class ImagenetDataset:
    """The first ``count`` samples of an ImageNet-layout folder."""

    root: Path
    files: Sequence[Path]
    labels: Sequence[int]
    layout: str = "NCHW"
    cache_dir: Optional[Path] = None

    @property
    def sample_shape(self) -> Tuple[int, ...]:
        return SAMPLE_SHAPE if self.layout == "NCHW" else (CROP, CROP, 3)

    @property
    def sample_spec(self):
        return [(self.sample_shape, np.float32)]

    @classmethod
    def open(cls, root: Union[str, os.PathLike], count: Optional[int] = None,
             layout: str = "NCHW", cache_dir: Optional[Union[str, os.PathLike]] = None,
             **_ignored) -> "ImagenetDataset":
        if layout not in LAYOUTS:
            raise DatasetError(f"unknown image layout {layout!r}; choose {' or '.join(LAYOUTS)}")
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"dataset folder {root} does not exist")
        entries = parse_val_map(root / VAL_MAP)
        _check_count(root, len(entries), count)
        entries = entries[:count]
        files = [root / rel for rel, _ in entries]
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise DatasetError(
                f"{len(missing)} image(s) listed in {root / VAL_MAP} are missing, "
                f"first: {missing[0]}")
        cache = open_cache(cache_dir, layout, DatasetError)
        if cache is not None and not os.access(cache, os.W_OK):
            raise DatasetError(f"cache_dir {cache_dir}: not writable")
        return cls(root=root, files=files, labels=[label for _, label in entries],
                   layout=layout, cache_dir=cache)

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int) -> np.ndarray:
        """Preprocessed sample ``index`` (float32, CHW or HWC)."""
        return cached_sample(self.files[index], self.root, self.cache_dir, self.sample_shape,
                             self._decode, DatasetError)

    def _decode(self, path: Path) -> np.ndarray:
        chw = preprocess(path)
        return chw if self.layout == "NCHW" else np.ascontiguousarray(chw.transpose(1, 2, 0))


def open_cache(cache_dir, sub: str, error) -> Optional[Path]:
    """The preprocessed-sample cache folder cache_dir/sub, created (None without a cache_dir);
    ``error``: the dataset's error class, raised when it cannot be created."""
    if cache_dir is None:
        return None
    cache = Path(cache_dir) / sub
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise error(f"cache_dir {cache_dir}: cannot create it ({exc.strerror})") from None
    return cache


def cached_sample(path: Path, base: Path, cache_dir: Optional[Path], shape: Tuple[int, ...],
                  decode: Callable[[Path], np.ndarray], error) -> np.ndarray:
    """Image ``path`` preprocessed by ``decode``, through the cache: cache_dir/<path relative to
    base>.npy when it holds a float32 array of ``shape``, else decoded and saved there (no
    cache_dir: just decoded). An undecodable image raises ``error`` (the dataset's class)."""
    cached = None
    if cache_dir is not None:
        cached = cache_dir / (path.relative_to(base).as_posix() + ".npy")
        try:
            array = np.load(cached, allow_pickle=False)
            if array.shape == shape and array.dtype == np.float32:
                return array
        except (OSError, ValueError):
            pass
    try:
        array = decode(path)
    except (OSError, ValueError) as exc:
        raise error(f"cannot decode {path}: {exc}") from None
    if cached is not None:
        _save_atomically(cached, array)
    return array


def _save_atomically(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(array)}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DatasetError(f"cannot write the cached sample {path}: {exc.strerror}") from None
