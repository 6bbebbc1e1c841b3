"""A pool of threads that run batches of query samples off LoadGen's thread.

``submit`` only appends to a queue under a short lock and returns: LoadGen's
thread never waits for inference (a Server SUT that blocks in issue_queries
makes LoadGen fall behind its schedule).

Batches are formed by size and by time: a worker that is free takes up to
``max_batch`` waiting samples as soon as that many are waiting, or once the
oldest waiting sample has waited ``timeout`` seconds, whichever comes first
(``timeout`` 0: whatever is waiting, at once). While every worker is busy,
samples pile up and the next batch is formed from all of them, so under load
batches grow towards ``max_batch`` by themselves and the timeout only matters
at low load.

With a latency ``budget`` (the SUT gives half the Server bound), the wait
adapts to the measured compute time of a full batch, ``full`` (the workers
time every batch: an average per sample, times ``max_batch``): a free worker
waits at most ``min(timeout, full, budget - full)`` after the oldest sample.
Waiting longer than ``full`` never pays (at a load the pool can sustain, a
full batch arrives within ``full``; below it, waiting only adds latency), and
once the budget left is less than a batch's compute, it does not wait at all.
Until a batch has been timed, ``timeout`` holds. Offline submits its one big
query and gets ``max_batch`` chunks.

The pool keeps each submitted sequence as it is (the caller must not change it)
and forms a batch by slicing it: a batch within one submit is one slice (an
Offline query of 10^4 samples costs no per-sample Python to queue or split),
one across submits (Server: one sample each) a list of their items.

With ``prepare`` (the SUT's batch gathering), one thread forms and gathers
the next batch into a free buffer while the workers run the current one; a
batch is gathered early only when no gathered batch is waiting for a worker,
so gathering ahead never makes batches smaller. Buffers come from a fixed set
and go back only when their batch has been run, so a batch is never
overwritten while in use.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from typing import Callable, List, Optional, Sequence

from mlperf_harness.errors import abort, describe


class WorkerPool:
    def __init__(
        self,
        handler: Callable[..., None],
        workers: int = 1,
        max_batch: int = 32,
        timeout: float = 0.0,
        on_error: Callable[[str], None] = abort,
        prepare: Optional[Callable[[Sequence, int], object]] = None,
        clock: Callable[[], float] = time.monotonic,
        budget: float = 0.0,
    ) -> None:
        """``handler(samples)``; with ``prepare``, ``handler(samples, prepared)``
        where ``prepared = prepare(samples, buffer_slot)`` ran on the gathering thread."""
        self.handler = handler
        self.prepare = prepare
        self.max_batch = max(1, max_batch)
        self.timeout = max(0.0, float(timeout))
        self.on_error = on_error
        self._clock = clock
        self.budget = max(0.0, float(budget))
        self.per_sample: Optional[float] = None  # measured compute seconds per sample (average)
        lock = threading.Lock()
        self._work = threading.Condition(lock)  # waiting samples changed
        self._pending: deque = deque()  # [arrival time, samples, first not taken] per submit
        self._waiting = 0  # samples submitted and not taken
        self._stopping = False
        workers = max(1, workers)
        self._workers = workers
        if prepare is None:
            targets = [self._loop] * workers
        else:
            self._ready_changed = threading.Condition(lock)
            self._ready: deque = deque()  # (samples, prepared, slot)
            self._gathering = True
            self._free: "queue.Queue" = queue.Queue()
            for slot in range(2 * workers + 1):  # running, ready and being gathered
                self._free.put(slot)
            targets = [self._run_loop] * workers + [self._gather_loop]
        self._threads = [threading.Thread(target=target, name=f"sut-worker-{n}", daemon=True)
                         for n, target in enumerate(targets)]
        for thread in self._threads:
            thread.start()

    def submit(self, samples: Sequence) -> None:
        if not samples:
            return
        now = self._clock()
        with self._work:
            was_empty = not self._waiting
            self._pending.append([now, samples, 0])
            self._waiting += len(samples)
            # Wake a taker only when it has something new to decide: the first
            # waiting sample (it starts the clock) or a full batch.
            if was_empty or self._waiting >= self.max_batch:
                self._work.notify()

    # Forming batches (called with the lock held) ---------------------------
    def _pop(self, count: int) -> Sequence:
        """The oldest ``count`` waiting samples: a slice of one submit where they fit in it,
        else a list of the pairs taken from each submit in turn."""
        pending = self._pending
        self._waiting -= count
        pieces: List = []
        while count:
            head = pending[0]
            _, items, first = head
            take = min(count, len(items) - first)
            pieces.append(items if take == len(items) else items[first:first + take])
            count -= take
            if first + take == len(items):
                pending.popleft()
            else:
                head[2] = first + take
        if len(pieces) == 1:
            return pieces[0]
        batch: List = []
        for piece in pieces:
            batch.extend(piece)
        return batch

    def _take(self, gated: bool = False) -> Optional[List]:
        """The next batch, or None once closed and drained. ``gated``: while a
        gathered batch still waits for a worker, only a full batch is taken."""
        with self._work:
            while True:
                waiting = self._waiting
                if waiting >= self.max_batch or (waiting and self._stopping):
                    break
                if not waiting:
                    if self._stopping:
                        return None
                    self._work.wait()
                    continue
                if gated and self._ready:
                    self._work.wait()
                    continue
                left = self._pending[0][0] + self.wait_limit() - self._clock()
                if left <= 0:
                    break
                self._work.wait(left)
            batch = self._pop(min(waiting, self.max_batch))
            if self._waiting:
                self._work.notify()  # more for another taker
            return batch

    def wait_limit(self) -> float:
        """How long after the oldest waiting sample a free worker may wait for more."""
        if not self.budget or self.per_sample is None:
            return self.timeout
        full = self.per_sample * self.max_batch
        return max(0.0, min(self.timeout, full, self.budget - full))

    def _timed(self, size: int, started: float) -> None:
        """Fold a batch's compute time into the per-sample average (a short memory: the
        last few batches count most)."""
        if self.budget:
            each = max(0.0, self._clock() - started) / size
            self.per_sample = each if self.per_sample is None else \
                0.8 * self.per_sample + 0.2 * each

    # Threads ---------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                started = self._clock()
                self.handler(batch)
                self._timed(len(batch), started)
            except BaseException as exc:  # never leave a query uncompleted silently
                self.on_error(f"inference failed: {describe(exc)}")
                return

    def _gather_loop(self) -> None:
        try:
            while True:
                batch = self._take(gated=True)
                if batch is None:
                    break
                slot = self._free.get()
                prepared = self.prepare(batch, slot)
                with self._work:
                    self._ready.append((batch, prepared, slot))
                    self._ready_changed.notify()
        except BaseException as exc:  # never leave a query uncompleted silently
            self.on_error(f"inference failed: {describe(exc)}")
        with self._work:
            self._gathering = False
            self._ready_changed.notify_all()

    def _run_loop(self) -> None:
        failed = False
        while True:
            with self._work:
                while not self._ready:
                    if not self._gathering:
                        return
                    self._ready_changed.wait()
                batch, prepared, slot = self._ready.popleft()
                self._work.notify()  # the gatherer may form the next batch now
            try:
                if not failed:  # after a failure, only drain (the gatherer must not block)
                    started = self._clock()
                    self.handler(batch, prepared)
                    self._timed(len(batch), started)
            except BaseException as exc:
                failed = True
                self.on_error(f"inference failed: {describe(exc)}")
            finally:
                self._free.put(slot)

    def close(self) -> None:
        """Run what is still waiting, then stop the threads."""
        with self._work:
            self._stopping = True
            self._work.notify_all()
        for thread in self._threads:
            thread.join()
