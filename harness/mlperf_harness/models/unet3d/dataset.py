"""KiTS19, preprocessed as the reference's ``preprocess.py`` leaves it (the folder its
``run.py --preprocessed_data_dir`` and ``accuracy_kits.py`` read)::

    <root>/preprocessed_files.pkl   {"file_list": [case, ...], "cases": {case: {"image_shape", ...}}}
    <root>/<case>.pkl               [image float32 (1, D, H, W), label uint8 (1, D, H, W)]
    <root>/nifti/<case>/...         (NIfTI copies; not read here)

Sample ``i`` is ``file_list[i]``. The image is already resampled, normalised and padded
so each side is at least 128 and 128 + a multiple of 64 (the sliding window's stride):
the harness feeds it as it is. The label in ``<case>.pkl`` is the ground truth
(``nifti/<case>/segmentation.nii.gz`` holds the same array), so scoring needs no nibabel.

Pickles hold numpy arrays only; they are read with an unpickler that accepts numpy's
array and dtype constructors and nothing else.
"""

from __future__ import annotations

import os
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from mlperf_harness.errors import CountError, HarnessError

INDEX = "preprocessed_files.pkl"
ROI = (128, 128, 128)  # the model's window
STRIDE = 64  # ROI * (1 - overlap 0.5)

_NUMPY_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}


class DatasetError(HarnessError):
    """A malformed or incomplete KiTS19 folder."""


class DatasetCountError(DatasetError, CountError):
    """--count larger than the dataset."""


class _NumpyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _NUMPY_GLOBALS:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a dataset pickle")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core under numpy 2
            return super().find_class(module, name)


def load_pickle(path: Path):
    try:
        with open(path, "rb") as handle:
            return _NumpyUnpickler(handle).load()
    except FileNotFoundError:
        raise DatasetError(f"{path}: not found") from None
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise DatasetError(f"{path}: not a readable preprocessed KiTS19 pickle ({exc})") from None


def check_shape(shape, where) -> Tuple[int, int, int]:
    """A volume's (D, H, W): each side 128 + a multiple of 64, so the windows cover it."""
    dims = tuple(int(s) for s in shape)[-3:]
    if len(dims) != 3 or any(d < r or (d - r) % STRIDE for d, r in zip(dims, ROI)):
        raise DatasetError(f"{where}: volume shape {dims} is not 128 + a multiple of 64 on every "
                           "side (is it preprocessed with the reference's preprocess.py?)")
    return dims


def read_index(root: Path) -> Tuple[List[str], Dict[str, dict]]:
    path = root / INDEX
    if not path.is_file():
        raise DatasetError(f"{path}: not found (a KiTS19 folder is the reference's preprocessed "
                           f"data: {INDEX} and one <case>.pkl per case)")
    index = load_pickle(path)
    files = index.get("file_list") if isinstance(index, dict) else None
    cases = index.get("cases") if isinstance(index, dict) else None
    if not isinstance(files, list) or not files or not isinstance(cases, dict):
        raise DatasetError(f"{path}: expected {{'file_list': [...], 'cases': {{...}}}}")
    for case in files:
        if not isinstance(case, str) or os.sep in case or case.startswith("."):
            raise DatasetError(f"{path}: bad case name {case!r}")
        if "image_shape" not in cases.get(case, {}):
            raise DatasetError(f"{path}: no image_shape for {case}")
        check_shape(cases[case]["image_shape"], f"{path} {case}")
    return files, cases


@dataclass
class Kits19Dataset:
    """The first ``count`` cases of a preprocessed KiTS19 folder."""

    root: Path
    cases: List[str]
    shapes: Dict[str, Tuple[int, ...]]

    @property
    def sample_spec(self):
        """The smallest sample (one window): what the warm-up feeds."""
        return [((1,) + ROI, np.float32)]

    @classmethod
    def open(cls, root: Union[str, os.PathLike], count: Optional[int] = None,
             **_ignored) -> "Kits19Dataset":
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"dataset folder {root} does not exist")
        files, aux = read_index(root)
        if count is not None and count > len(files):
            raise DatasetCountError(f"--count {count} exceeds the {len(files)} cases listed in "
                                    f"{root / INDEX}")
        cases = files[:count]
        missing = [root / f"{c}.pkl" for c in cases if not (root / f"{c}.pkl").is_file()]
        if missing:
            raise DatasetError(f"{len(missing)} case(s) listed in {root / INDEX} are missing, "
                               f"first: {missing[0]}")
        shapes = {c: tuple(int(s) for s in aux[c]["image_shape"]) for c in cases}
        return cls(root=root, cases=cases, shapes=shapes)

    def __len__(self) -> int:
        return len(self.cases)

    def _read(self, index: int):
        case = self.cases[index]
        path = self.root / f"{case}.pkl"
        content = load_pickle(path)
        if not isinstance(content, (list, tuple)) or len(content) != 2:
            raise DatasetError(f"{path}: expected [image, label]")
        image, label = content
        if not isinstance(image, np.ndarray) or image.ndim != 4 or image.shape[0] != 1:
            raise DatasetError(f"{path}: the image is not a (1, D, H, W) array")
        if tuple(image.shape) != self.shapes[case] or np.shape(label) != image.shape:
            raise DatasetError(f"{path}: image {image.shape} / label {np.shape(label)} differ from "
                               f"image_shape {self.shapes[case]} in {INDEX}")
        check_shape(image.shape, path)
        return image, label

    def load(self, index: int) -> np.ndarray:
        """Case ``index``'s image: float32 (1, D, H, W)."""
        return np.ascontiguousarray(self._read(index)[0], dtype=np.float32)

    def label(self, index: int) -> np.ndarray:
        """Case ``index``'s ground truth: uint8 (1, D, H, W), 0 background, 1 kidney, 2 tumor."""
        return np.asarray(self._read(index)[1], dtype=np.uint8)
