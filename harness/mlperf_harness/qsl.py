"""Query sample library: preprocessed samples held in RAM.

LoadGen calls LoadSamplesToRam with the indices it is about to issue (a
performance set, or successive slices of the dataset in accuracy mode) and
UnloadSamplesFromRam when done; the SUT then gathers batches from RAM only,
so no decoding or preprocessing happens inside the timed run.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence

import numpy as np


class SampleLibrary:
    def __init__(self, dataset, perf_count: int, loader_threads: int = 0) -> None:
        self.dataset = dataset
        self.total_count = len(dataset)
        self.perf_count = perf_count
        self.samples: Dict[int, np.ndarray] = {}
        self._threads = loader_threads or min(8, os.cpu_count() or 1)
        self._local = threading.local()
        self._slots: Dict[tuple, np.ndarray] = {}
        self._handle = None

    # LoadGen callbacks -------------------------------------------------
    def load_samples(self, indices: Sequence[int]) -> None:
        todo = [i for i in dict.fromkeys(indices) if i not in self.samples]
        if not todo:
            return
        # Decoding and resizing release the GIL: load in parallel.
        with ThreadPoolExecutor(max_workers=self._threads) as pool:
            for index, array in zip(todo, pool.map(self.dataset.load, todo)):
                self.samples[index] = array

    def unload_samples(self, indices: Sequence[int]) -> None:
        for index in indices:
            self.samples.pop(index, None)

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
        if isinstance(first, tuple):
            if len(indices) == 1:
                return tuple(part[np.newaxis] for part in first)
            return tuple(self._stack((slot, k), [self.samples[i][k] for i in indices])
                         for k in range(len(first)))
        if len(indices) == 1:
            return first[np.newaxis]
        return self._stack((slot, 0), [self.samples[i] for i in indices])

    def _stack(self, key, arrays: List[np.ndarray]) -> np.ndarray:
        if key[0] is None:
            buffers = getattr(self._local, "buffers", None)
            if buffers is None:
                buffers = self._local.buffers = {}
        else:
            buffers = self._slots
        first = arrays[0]
        buf = buffers.get(key)
        if buf is None or buf.shape[0] < len(arrays) or buf.shape[1:] != first.shape \
                or buf.dtype != first.dtype:
            buf = buffers[key] = np.empty((len(arrays),) + first.shape, dtype=first.dtype)
        out = buf[: len(arrays)]
        np.stack(arrays, out=out)
        return out

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

    def loaded(self) -> List[int]:
        return sorted(self.samples)
