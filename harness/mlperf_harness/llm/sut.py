"""The system under test of a generative model: one response per sample with its token count.

As the reference LLM harnesses: SingleStream runs each sample inline on LoadGen's thread; Offline
queues its samples to a worker, which runs them in batches of up to ``max_batchsize`` (a model
without batched generation, gptj, takes one at a time); Server queues each query to the worker,
which runs it alone. Every response is the generated token ids (``response_dtype``) with
``n_tokens`` = their count. With ``stream_first_token`` (llama2: LoadGen's use_token_latencies),
the Server path hands each sample's first token to ``lg.FirstTokenComplete`` the moment the
streamer sees it (TTFT), then completes the sample with every token (TPOT); otherwise LoadGen
infers the token latencies from the response sizes (gptj: infer_token_latencies).
A failure calls ``on_error`` (default: one ``error:`` line and exit), because an exception
escaping a LoadGen callback aborts and an uncompleted query hangs."""

from __future__ import annotations

import queue
import threading
from typing import Callable, List, Optional, Sequence

import numpy as np

from mlperf_harness.errors import abort, describe


class TokenSUT:
    def __init__(self, scenario: str, generate: Callable, qsl, response_dtype: str,
                 max_batchsize: int = 1, stream_first_token: bool = False, workers: int = 1,
                 complete: Optional[Callable] = None, first_token: Optional[Callable] = None,
                 on_error: Callable[[str], None] = abort) -> None:
        import mlperf_loadgen as lg

        self.scenario = scenario
        self.generate = generate
        self.qsl = qsl
        self.dtype = np.dtype(response_dtype)
        self.max_batchsize = max(1, max_batchsize) if scenario == "Offline" else 1
        self.stream = stream_first_token and scenario == "Server"
        self.on_error = on_error
        self._response = lg.QuerySampleResponse
        self._complete = complete or lg.QuerySamplesComplete
        self._first = first_token or lg.FirstTokenComplete
        self.completed = self.tokens = self.first_tokens = 0
        self._stats = threading.Lock()
        self._queue: "queue.Queue" = queue.Queue()
        self._threads: List[threading.Thread] = []
        if scenario != "SingleStream":
            self._threads = [threading.Thread(target=self._loop, name=f"llm-worker-{n}", daemon=True)
                             for n in range(max(1, workers))]
            for thread in self._threads:
                thread.start()
        self._handle = None

    # LoadGen callbacks -------------------------------------------------
    def issue_queries(self, samples) -> None:
        try:
            if not self._threads:
                for sample in samples:
                    self.run([sample])
                return
            for start in range(0, len(samples), self.max_batchsize):
                self._queue.put(samples[start:start + self.max_batchsize])
        except BaseException as exc:
            self.on_error(f"inference failed: {describe(exc)}")

    def flush_queries(self) -> None:
        pass

    def _loop(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            try:
                self.run(batch)
            except BaseException as exc:
                self.on_error(f"inference failed: {describe(exc)}")
                return

    # Work ----------------------------------------------------------------
    def _first_token(self, sample_id: int):
        def send(token: int) -> None:
            data = np.array([token], dtype=self.dtype)
            self._first([self._response(sample_id, data.ctypes.data, data.nbytes)])
            with self._stats:
                self.first_tokens += 1
        return send

    def run(self, samples: Sequence) -> None:
        prompts = [self.qsl.samples[s.index] for s in samples]
        on_first = self._first_token(samples[0].id) if self.stream else None
        outputs = self.generate(prompts, on_first) if on_first else self.generate(prompts)
        if len(outputs) != len(samples):
            raise RuntimeError(f"the model returned {len(outputs)} outputs for {len(samples)} samples")
        arrays = [np.ascontiguousarray(o, dtype=self.dtype) for o in outputs]
        responses = [self._response(s.id, a.ctypes.data, a.nbytes, int(a.size))
                     for s, a in zip(samples, arrays)]
        self._complete(responses)  # copies the bytes; the arrays live until here
        with self._stats:
            self.completed += len(samples)
            self.tokens += sum(int(a.size) for a in arrays)

    def stats_line(self) -> str:
        first = f", {self.first_tokens} first tokens streamed" if self.stream else ""
        return f"sut: {self.completed} samples, {self.tokens} tokens generated{first}"

    # LoadGen registration --------------------------------------------------
    def construct(self):
        import mlperf_loadgen as lg

        self._handle = lg.ConstructSUT(self.issue_queries, self.flush_queries)
        return self._handle

    def destroy(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self._threads = []
        if self._handle is not None:
            import mlperf_loadgen as lg

            lg.DestroySUT(self._handle)
            self._handle = None
