"""The multi-hot Criteo 1TB dataset as the reference's ``multihot_criteo.py`` reads it::

    <root>/day_23_dense.npy                 float32 (N, 13)
    <root>/day_23_sparse_multi_hot.npz      keys "0".."25": int32 (N, multi-hot size), stored
                                            uncompressed (memory-mapped, as the reference does)
    <root>/day_23_labels.npy                int32 (N, 1)
    <root>/dist_quantile.txt                (optional) the reference's tools/dist_quantile.txt

Evaluation uses the first half of day 23 (ceil(N / 2) rows). Rows are aggregated into
samples: ``samples_to_aggregate=K`` gives K rows each (the last one shorter); otherwise each
sample's size is drawn from the quantile file (comma-separated sizes; a size is picked
uniformly, numpy RandomState(0) so the accuracy script sees the same samples), as the
reference's ``--samples-to-aggregate-quantile-file``."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import List, Optional, Union

import numpy as np

from mlperf_harness.errors import CountError, HarnessError
from mlperf_harness.models.dlrm_v2 import DENSE_FEATURES, MULTI_HOT_SIZES

DENSE, SPARSE, LABELS = "day_23_dense.npy", "day_23_sparse_multi_hot.npz", "day_23_labels.npy"
QUANTILE = "dist_quantile.txt"
SEED = 0


class DatasetError(HarnessError):
    """A malformed or incomplete multi-hot Criteo folder."""


class DatasetCountError(DatasetError, CountError):
    """--count larger than the dataset."""


def _npz_member(path: Path, key: str) -> np.ndarray:
    """Member ``key`` of an uncompressed .npz, memory-mapped."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.NameToInfo.get(f"{key}.npy")
            if info is None:
                raise DatasetError(f"{path}: no array {key!r} (expected keys 0..25)")
            if info.compress_type != zipfile.ZIP_STORED:
                raise DatasetError(f"{path}: array {key!r} is compressed; the multi-hot file is "
                                   "stored uncompressed (np.savez, not savez_compressed)")
            with open(path, "rb") as handle:
                handle.seek(info.header_offset)
                local = handle.read(30)
                name_len, extra_len = int.from_bytes(local[26:28], "little"), int.from_bytes(local[28:30], "little")
                handle.seek(info.header_offset + 30 + name_len + extra_len)
                version = np.lib.format.read_magic(handle)
                reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                          else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = reader(handle)
                offset = handle.tell()
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable .npz ({exc})") from None
    if dtype != np.int32:
        raise DatasetError(f"{path}: array {key!r} is {dtype}, expected int32")
    return np.memmap(path, dtype=dtype, shape=shape, order="F" if fortran else "C", mode="r",
                     offset=offset)


def _npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable .npy ({exc})") from None


def read_quantile(path: Path) -> np.ndarray:
    try:
        text = path.read_text(encoding="utf-8")
        sizes = np.array([int(v) for v in text.replace("\n", ",").split(",") if v.strip()], dtype=np.int64)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a comma-separated list of sample sizes ({exc})") from None
    if sizes.size == 0 or (sizes < 1).any():
        raise DatasetError(f"{path}: expected positive sample sizes")
    return sizes


def sample_offsets(rows: int, fixed: Optional[int], quantile: Optional[np.ndarray]) -> np.ndarray:
    """Row offsets of the aggregated samples: [0, e_0, e_1, ..., rows]."""
    if fixed is not None:
        return np.append(np.arange(0, rows, fixed), rows)
    rng = np.random.RandomState(SEED)
    offsets = [0]
    while offsets[-1] < rows:
        offsets.append(min(rows, offsets[-1] + int(quantile[rng.randint(0, len(quantile))])))
    return np.asarray(offsets)


class CriteoDataset:
    """The first ``count`` aggregated samples of the evaluation half of day 23."""

    def __init__(self, root: Path, dense, sparse: List[np.ndarray], labels, offsets) -> None:
        self.root, self.dense, self.sparse, self.labels, self.offsets = root, dense, sparse, labels, offsets

    @classmethod
    def open(cls, root: Union[str, os.PathLike], count: Optional[int] = None,
             samples_to_aggregate: Optional[int] = None, quantile_file: Optional[str] = None,
             **_ignored) -> "CriteoDataset":
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"dataset folder {root} does not exist")
        for name in (DENSE, SPARSE, LABELS):
            if not (root / name).is_file():
                raise DatasetError(f"{root / name}: not found (a multi-hot Criteo folder holds "
                                   f"{DENSE}, {SPARSE} and {LABELS})")
        quantile = None
        if samples_to_aggregate is not None:
            if samples_to_aggregate < 1:
                raise DatasetError("--dataset-args: samples_to_aggregate must be at least 1")
        else:
            qpath = Path(quantile_file) if quantile_file else root / QUANTILE
            if not qpath.is_absolute() and quantile_file:
                qpath = root / qpath
            if not qpath.is_file():
                raise DatasetError(f"{qpath}: not found (the reference's tools/dist_quantile.txt: put it "
                                   "in the dataset folder, or pass --dataset-args samples_to_aggregate=N)")
            quantile = read_quantile(qpath)
        dense, labels = _npy(root / DENSE), _npy(root / LABELS)
        sparse = [_npz_member(root / SPARSE, str(k)) for k in range(len(MULTI_HOT_SIZES))]
        total = len(dense)
        if dense.ndim != 2 or dense.shape[1] != DENSE_FEATURES:
            raise DatasetError(f"{root / DENSE}: shape {dense.shape}, expected (N, {DENSE_FEATURES})")
        if labels.shape[0] != total:
            raise DatasetError(f"{root / LABELS}: {labels.shape[0]} rows, {DENSE} has {total}")
        for k, (array, size) in enumerate(zip(sparse, MULTI_HOT_SIZES)):
            if array.shape != (total, size):
                raise DatasetError(f"{root / SPARSE}: array {k} has shape {array.shape}, expected "
                                   f"({total}, {size})")
        rows = (total + 1) // 2  # the evaluation half, as the reference's "val" stage
        offsets = sample_offsets(rows, samples_to_aggregate, quantile)
        samples = len(offsets) - 1
        if count is not None:
            if count > samples:
                raise DatasetCountError(f"--count {count} exceeds the {samples} aggregated samples in {root}")
            offsets = offsets[:count + 1]
        return cls(root, dense, sparse, labels, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def rows(self, index: int) -> slice:
        return slice(int(self.offsets[index]), int(self.offsets[index + 1]))

    @property
    def sample_spec(self):
        """The first sample's shapes: what the warm-up feeds."""
        n = self.rows(0).stop - self.rows(0).start
        return [((n, DENSE_FEATURES), np.float32), ((n, sum(MULTI_HOT_SIZES)), np.int32), ((n,), np.float32)]

    def label(self, index: int) -> np.ndarray:
        return np.asarray(self.labels[self.rows(index)], dtype=np.float32).reshape(-1)

    def load(self, index: int):
        """Sample ``index``: (dense float32 [n, 13], sparse int32 [n, 214], labels float32 [n])."""
        rows = self.rows(index)
        dense = np.array(self.dense[rows], dtype=np.float32)  # a copy: the file is memory-mapped
        sparse = np.concatenate([a[rows] for a in self.sparse], axis=1).astype(np.int32, copy=False)
        return dense, sparse, self.label(index)
