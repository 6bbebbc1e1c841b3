"""DeepSparse backend: an ONNX model compiled by Neural Magic's DeepSparse engine on the CPU.

As the reference's language/bert/deepsparse_SUT.py: ``compile_model(onnx, batch_size)``
gives an engine of one fixed batch size, fed a list of arrays in the model's input
order; a smaller batch is padded to the engine's size (the reference pads its last
Offline batch) and the padding rows dropped from the outputs. Engines are compiled
per batch size on first use (the harness's warm-up compiles 1 and --max-batchsize,
so later batches reuse those). The model is a local ONNX file: nothing is fetched
from SparseZoo, and Neural Magic's usage analytics are switched off.

DeepSparse ships AVX2 and AVX-512 builds only; on a CPU without AVX2 the engine
refuses to load, and that message is reported.
"""

from __future__ import annotations

import os
import threading
from typing import Dict, List

import numpy as np

from mlperf_harness.backends.base import Backend
from mlperf_harness.backends.common import first_line, match_names
from mlperf_harness.errors import HarnessError

os.environ.setdefault("NM_DISABLE_ANALYTICS", "1")  # no usage pings (runs have no network anyway)

try:
    import deepsparse
    from deepsparse import Scheduler, compile_model
except ImportError as _exc:  # surfaced by backends.create_backend
    raise ImportError(f"deepsparse: {_exc}") from _exc


class DeepSparseBackend(Backend):
    name = "deepsparse"
    image_format = "NCHW"
    devices = ("cpu",)
    threads_label = "cores"

    def load(self) -> None:
        import onnx  # a deepsparse dependency: the signature, without loading the weights

        try:
            graph = onnx.load(self.model_path, load_external_data=False).graph
        except Exception as exc:
            raise HarnessError(f"deepsparse: {self.model_path} is not an ONNX model: {first_line(exc)}") from None
        initializers = {t.name for t in graph.initializer}
        model_inputs = [i.name for i in graph.input if i.name not in initializers]
        model_outputs = [o.name for o in graph.output]
        names = match_names(self.wanted_inputs, model_inputs, "input(s)", self.model_path)
        if names != model_inputs:
            raise HarnessError(f"{self.model_path}: the model takes {model_inputs}, the harness feeds "
                               f"{self.wanted_inputs}")
        wanted = match_names(self.wanted_outputs, model_outputs, "output(s)", self.model_path)
        self.output_index = [model_outputs.index(n) for n in wanted]
        self.engines: Dict[int, object] = {}
        self._lock = threading.Lock()
        self._engine(1)  # a model deepsparse cannot compile (or a CPU it cannot run on) fails here

    def _engine(self, size: int):
        """The engine for a batch of ``size``: the smallest compiled one that holds it, else a new one."""
        fits = [b for b in self.engines if b >= size]
        if fits:
            return min(fits), self.engines[min(fits)]
        try:
            engine = compile_model(self.model_path, batch_size=size, num_cores=self.threads,
                                   scheduler=Scheduler.single_stream)
        except Exception as exc:
            raise HarnessError(f"deepsparse cannot compile {self.model_path} for batch {size}: "
                               f"{first_line(exc)}") from None
        self.engines[size] = engine
        return size, engine

    def runtime(self) -> str:
        return f"deepsparse {deepsparse.__version__}, device: cpu"

    def threads_in_use(self):
        engine = self.engines.get(1)
        return getattr(engine, "num_cores", None) or self.threads or "default"

    def infer(self, arrays) -> List[np.ndarray]:
        n = int(arrays[0].shape[0])
        with self._lock:  # one engine runs one batch at a time (single-stream scheduler)
            size, engine = self._engine(n)
            feed = [np.ascontiguousarray(a) for a in arrays]
            if size > n:
                feed = [np.concatenate([a, np.zeros((size - n,) + a.shape[1:], a.dtype)]) for a in feed]
            outputs = engine.run(feed)
        return [np.asarray(outputs[i])[:n] for i in self.output_index]
