"""The system under test: LoadGen queries -> backend batches -> responses.

Dispatch per scenario:
- SingleStream: one sample per query, run inline in LoadGen's callback (the
  lowest-latency path; LoadGen waits for it anyway).
- MultiStream: one query of N samples at a time, LoadGen issues the next
  only after it completes: run inline, in max-batchsize chunks.
- Offline: one huge query: split into max-batchsize chunks and queue them to
  a WorkerPool, returning at once.
- Server: queries arrive on a schedule: queue each to the WorkerPool, whose
  workers coalesce what is waiting into batches.

Each sample's response is the postprocessed result row (for resnet50 one
int32 label). The result array backs the response pointers and is kept
alive until QuerySamplesComplete returns. Any failure calls ``on_error``
(default: print one ``error:`` line and exit the process), because an
exception escaping a LoadGen callback aborts and an uncompleted query hangs.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from mlperf_harness.errors import abort, describe
from mlperf_harness.workers import WorkerPool

INLINE_SCENARIOS = ("SingleStream", "MultiStream")
POOLED_SCENARIOS = ("Offline", "Server")


class SystemUnderTest:
    def __init__(
        self,
        scenario: str,
        backend,
        qsl,
        postprocess: Callable[[Sequence[np.ndarray]], np.ndarray],
        max_batchsize: int = 32,
        workers: int = 1,
        complete: Optional[Callable] = None,
        on_error: Callable[[str], None] = abort,
    ) -> None:
        import mlperf_loadgen as lg

        if scenario not in INLINE_SCENARIOS + POOLED_SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}")
        self.scenario = scenario
        self.backend = backend
        self.qsl = qsl
        self.postprocess = postprocess
        self.max_batchsize = max(1, max_batchsize)
        self.on_error = on_error
        self._response = lg.QuerySampleResponse
        self._complete_fn = complete or lg.QuerySamplesComplete
        self.completed = 0
        self.pool: Optional[WorkerPool] = None
        if scenario in POOLED_SCENARIOS:
            self.pool = WorkerPool(self.run_batch, workers=workers, max_batch=self.max_batchsize,
                                   coalesce=(scenario == "Server"), on_error=on_error)
        self._handle = None

    # LoadGen callbacks -------------------------------------------------
    def issue_queries(self, samples) -> None:
        try:
            if self.pool is None:
                for start in range(0, len(samples), self.max_batchsize):
                    self.run_batch(samples[start:start + self.max_batchsize])
            elif self.scenario == "Offline":
                for start in range(0, len(samples), self.max_batchsize):
                    self.pool.submit(samples[start:start + self.max_batchsize])
            else:
                self.pool.submit(samples)
        except BaseException as exc:
            self.on_error(f"inference failed: {describe(exc)}")

    def flush_queries(self) -> None:
        pass

    # Work ----------------------------------------------------------------
    def run_batch(self, samples: Sequence) -> None:
        batch = self.qsl.gather([s.index for s in samples])
        outputs = self.backend.run(batch)
        self.complete(samples, self.postprocess(outputs))

    def complete(self, samples: Sequence, results: np.ndarray) -> None:
        results = np.ascontiguousarray(results)
        if results.shape[0] != len(samples):
            raise RuntimeError(
                f"backend returned {results.shape[0]} results for a batch of {len(samples)}")
        size = results.nbytes // len(samples)
        base = results.ctypes.data
        responses = [self._response(s.id, base + n * size, size) for n, s in enumerate(samples)]
        self._complete_fn(responses)  # copies the bytes; ``results`` lives until here
        self.completed += len(samples)

    # LoadGen registration --------------------------------------------------
    def construct(self):
        import mlperf_loadgen as lg

        self._handle = lg.ConstructSUT(self.issue_queries, self.flush_queries)
        return self._handle

    def destroy(self) -> None:
        if self._handle is not None:
            import mlperf_loadgen as lg

            lg.DestroySUT(self._handle)
            self._handle = None
        if self.pool is not None:
            self.pool.close()
            self.pool = None
