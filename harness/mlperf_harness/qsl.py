"""Query sample library: preprocessed samples held in RAM.

LoadGen calls LoadSamplesToRam with the indices it is about to issue (a
performance set, or successive slices of the dataset in accuracy mode) and
UnloadSamplesFromRam when done; the SUT then gathers batches from RAM only,
so no decoding or preprocessing happens inside the timed run.

A load into an empty library whose samples all have one shape and type (per
input) is packed: each input's samples are copied into one array [n, ...] and
every sample becomes a view of its row, so a batch is one ``np.take`` per input
instead of stacking N arrays in Python (a bert batch of 32: 28 us instead of
100, time the framework's thread would otherwise wait for the GIL). Samples of
differing shapes (rnnt's audio, 3d-unet's cases) are kept as loaded.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence

import numpy as np


def _parts(sample) -> tuple:
    """A sample's arrays: itself alone, or its tuple (multi-input samples)."""
    return sample if isinstance(sample, tuple) else (sample,)


class SampleLibrary:
    def __init__(self, dataset, perf_count: int, loader_threads: int = 0) -> None:
        self.dataset = dataset
        self.total_count = len(dataset)
        self.perf_count = perf_count
        self.samples: Dict[int, np.ndarray] = {}
        self._threads = loader_threads or min(8, os.cpu_count() or 1)
        self._local = threading.local()
        self._slots: Dict[tuple, np.ndarray] = {}
        # the packed samples: one array [n, ...] per input, and each index's row in it (-1: none)
        self._packed: Optional[List[np.ndarray]] = None
        self._rows: Optional[np.ndarray] = None
        self._handle = None

    # LoadGen callbacks -------------------------------------------------
    def load_samples(self, indices: Sequence[int]) -> None:
        todo = [i for i in dict.fromkeys(indices) if i not in self.samples]
        if not todo:
            return
        packable = not self.samples  # a pack holds exactly one load
        self._unpack()
        # Decoding and resizing release the GIL: load in parallel.
        with ThreadPoolExecutor(max_workers=self._threads) as pool:
            for index, array in zip(todo, pool.map(self.dataset.load, todo)):
                self.samples[index] = array
        if packable:
            self._pack(todo)

    def unload_samples(self, indices: Sequence[int]) -> None:
        for index in indices:
            if self.samples.pop(index, None) is not None and self._rows is not None:
                self._rows[index] = -1
        if not self.samples:
            self._unpack()

    def _pack(self, indices: List[int]) -> None:
        """Copy the samples ``indices`` (the whole library) into one array per input, each
        sample then a view of its row; nothing where their shapes or types differ. Each
        sample's own array is let go as its row is filled: the library never holds a
        sample twice."""
        multi = isinstance(self.samples[indices[0]], tuple)
        kinds = [(p.shape, p.dtype) if isinstance(p, np.ndarray) else None
                 for p in _parts(self.samples[indices[0]])]
        if None in kinds:
            return
        for index in indices:
            sample = _parts(self.samples[index])
            if len(sample) != len(kinds) or any(
                    not isinstance(p, np.ndarray) or (p.shape, p.dtype) != kind
                    for p, kind in zip(sample, kinds)):
                return
        packed = [np.empty((len(indices),) + shape, dtype) for shape, dtype in kinds]
        rows = np.full(self.total_count, -1, dtype=np.int64)
        for row, index in enumerate(indices):
            for k, part in enumerate(_parts(self.samples[index])):
                packed[k][row] = part
            views = tuple(p[row] for p in packed)
            self.samples[index] = views if multi else views[0]
            rows[index] = row
        self._packed, self._rows = packed, rows

    def _unpack(self) -> None:
        """Forget the pack (its samples, if still loaded, stay as views of it)."""
        self._packed = self._rows = None

    # Used by the SUT ---------------------------------------------------
    def gather(self, indices: Sequence[int], slot: Optional[int] = None):
        """Samples ``indices`` stacked into one batch [N, ...] (a tuple of such
        batches for multi-input samples, e.g. bert's three token arrays).

        A single sample is returned as a view (no copy). Larger batches are
        copied into reused buffers, which avoids paying for fresh page faults
        on every batch: the calling thread's own (valid until it gathers
        again), or buffer ``slot`` (valid until that slot is gathered into
        again; the SUT's prefetching hands slots out one batch at a time).
        """
        first = self.samples[indices[0]]
        multi = isinstance(first, tuple)
        if len(indices) == 1:
            return tuple(part[np.newaxis] for part in first) if multi else first[np.newaxis]
        packed, rows = self._packed, self._rows
        if packed is not None:
            rows = rows.take(indices)
            if rows.min() < 0:  # not loaded, as the dictionary would say
                raise KeyError(indices[int(rows.argmin())])
            batch = tuple(np.take(part, rows, axis=0, mode="clip",
                                  out=self._buffer((slot, k), len(rows), part[0]))
                          for k, part in enumerate(packed))
        else:
            batch = tuple(np.stack([_parts(self.samples[i])[k] for i in indices],
                                   out=self._buffer((slot, k), len(indices), part))
                          for k, part in enumerate(_parts(first)))
        return batch if multi else batch[0]

    def _buffer(self, key, count: int, like: np.ndarray) -> np.ndarray:
        """A reused array [count, *like.shape] of like's type: the calling thread's (slot
        None) or the slot's."""
        if key[0] is None:
            buffers = getattr(self._local, "buffers", None)
            if buffers is None:
                buffers = self._local.buffers = {}
        else:
            buffers = self._slots
        buf = buffers.get(key)
        if buf is None or buf.shape[0] < count or buf.shape[1:] != like.shape \
                or buf.dtype != like.dtype:
            buf = buffers[key] = np.empty((count,) + like.shape, dtype=like.dtype)
        return buf[:count]

    # LoadGen registration ----------------------------------------------
    def construct(self):
        import mlperf_loadgen as lg

        self._handle = lg.ConstructQSL(
            self.total_count, self.perf_count, self.load_samples, self.unload_samples)
        return self._handle

    def destroy(self) -> None:
        if self._handle is not None:
            import mlperf_loadgen as lg

            lg.DestroyQSL(self._handle)
            self._handle = None
        self.samples.clear()
        self._unpack()

    def loaded(self) -> List[int]:
        return sorted(self.samples)
