"""A pool of threads that run batches of query samples off LoadGen's thread.

Offline hands it the big query in max-batchsize chunks; Server hands it each
arriving query and the workers coalesce whatever is queued into a batch (up
to max-batchsize). Keeping issue_queries non-blocking matters for Server:
LoadGen falls behind its schedule when issue_queries blocks.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, List, Sequence

from mlperf_harness.errors import abort, describe

_STOP = object()


class WorkerPool:
    def __init__(
        self,
        handler: Callable[[Sequence], None],
        workers: int = 1,
        max_batch: int = 32,
        coalesce: bool = False,
        on_error: Callable[[str], None] = abort,
    ) -> None:
        self.handler = handler
        self.max_batch = max(1, max_batch)
        self.coalesce = coalesce
        self.on_error = on_error
        self._queue: "queue.Queue" = queue.Queue()
        self._threads = [
            threading.Thread(target=self._loop, name=f"sut-worker-{n}", daemon=True)
            for n in range(max(1, workers))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, samples: Sequence) -> None:
        self._queue.put(samples)

    def _next_batch(self):
        item = self._queue.get()
        if item is _STOP or not self.coalesce:
            return item
        batch: List = list(item)
        while len(batch) < self.max_batch:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is _STOP:
                self._queue.put(_STOP)  # leave it for this or another worker
                break
            batch.extend(more)
        return batch

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is _STOP:
                return
            try:
                for start in range(0, len(batch), self.max_batch):
                    self.handler(batch[start:start + self.max_batch])
            except BaseException as exc:  # never leave a query uncompleted silently
                self.on_error(f"inference failed: {describe(exc)}")
                return

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join()
