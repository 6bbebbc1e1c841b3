"""A pool of threads that run batches of query samples off LoadGen's thread.

Offline hands it the big query in max-batchsize chunks; Server hands it each
arriving query and the pool coalesces whatever is queued into a batch (up to
max-batchsize). Keeping issue_queries non-blocking matters for Server:
LoadGen falls behind its schedule when issue_queries blocks.

With ``prepare`` (the SUT's batch gathering), one thread gathers the next
batch into a free buffer while the workers run the current one: copying a
batch together costs about half an inference on a small model, and the two
overlap instead of taking turns. Buffers come from a fixed set and go back
only when their batch has been run, so a batch is never overwritten while in
use.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, List, Optional, Sequence

from mlperf_harness.errors import abort, describe

_STOP = object()


class WorkerPool:
    def __init__(
        self,
        handler: Callable[..., None],
        workers: int = 1,
        max_batch: int = 32,
        coalesce: bool = False,
        on_error: Callable[[str], None] = abort,
        prepare: Optional[Callable[[Sequence, int], object]] = None,
    ) -> None:
        """``handler(samples)``; with ``prepare``, ``handler(samples, prepared)``
        where ``prepared = prepare(samples, buffer_slot)`` ran on the gathering thread."""
        self.handler = handler
        self.prepare = prepare
        self.max_batch = max(1, max_batch)
        self.coalesce = coalesce
        self.on_error = on_error
        self._queue: "queue.Queue" = queue.Queue()
        workers = max(1, workers)
        self._workers = workers
        self._threads = [
            threading.Thread(target=self._loop, name=f"sut-worker-{n}", daemon=True)
            for n in range(workers)
        ]
        if prepare is not None:
            # One batch ready and one being gathered per worker, at most.
            self._ready: "queue.Queue" = queue.Queue(maxsize=workers)
            self._free: "queue.Queue" = queue.Queue()
            for slot in range(2 * workers + 1):
                self._free.put(slot)
            self._threads.append(threading.Thread(target=self._gather_loop, name="sut-gather",
                                                  daemon=True))
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

    def _chunks(self, batch):
        for start in range(0, len(batch), self.max_batch):
            yield batch[start:start + self.max_batch]

    def _gather_loop(self) -> None:
        try:
            while True:
                batch = self._next_batch()
                if batch is _STOP:
                    break
                for chunk in self._chunks(batch):
                    slot = self._free.get()
                    self._ready.put((chunk, self.prepare(chunk, slot), slot))
        except BaseException as exc:  # never leave a query uncompleted silently
            self.on_error(f"inference failed: {describe(exc)}")
        for _ in range(self._workers):
            self._ready.put(_STOP)

    def _loop(self) -> None:
        if self.prepare is not None:
            failed = False
            while True:
                item = self._ready.get()
                if item is _STOP:
                    return
                chunk, prepared, slot = item
                try:
                    if not failed:  # after a failure, only drain (the gatherer must not block)
                        self.handler(chunk, prepared)
                except BaseException as exc:
                    failed = True
                    self.on_error(f"inference failed: {describe(exc)}")
                finally:
                    self._free.put(slot)
        while True:
            batch = self._next_batch()
            if batch is _STOP:
                return
            try:
                for chunk in self._chunks(batch):
                    self.handler(chunk)
            except BaseException as exc:  # never leave a query uncompleted silently
                self.on_error(f"inference failed: {describe(exc)}")
                return

    def close(self) -> None:
        stops = 1 if self.prepare is not None else len(self._threads)
        for _ in range(stops):
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join()
