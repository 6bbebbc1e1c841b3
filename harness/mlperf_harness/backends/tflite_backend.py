"""TFLite backend: a .tflite flatbuffer run by the LiteRT interpreter
(``ai_edge_litert``), else ``tflite_runtime``, else TensorFlow's own.

Inputs and outputs are matched by name up to a ':0' suffix (TFLite drops
it). A model whose batch dimension is dynamic (shape signature -1) is resized
to each batch; a fixed one caps --max-batchsize. The interpreter is not
thread-safe, so calls are serialised (as in the reference).
"""

from __future__ import annotations

import threading
from typing import List

import numpy as np

from mlperf_harness.backends.base import Backend
from mlperf_harness.backends.common import first_line, match_names
from mlperf_harness.errors import HarnessError

try:
    from ai_edge_litert.interpreter import Interpreter

    _RUNTIME = "ai-edge-litert"
except ImportError:
    try:
        from tflite_runtime.interpreter import Interpreter

        _RUNTIME = "tflite-runtime"
    except ImportError:
        try:
            import os as _os

            _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            from tensorflow.lite.python.interpreter import Interpreter

            _RUNTIME = "tensorflow.lite"
        except ImportError as _exc:  # surfaced by backends.create_backend
            raise ImportError(f"no TFLite runtime (ai-edge-litert, tflite-runtime or "
                              f"tensorflow): {_exc}") from _exc


def _version() -> str:
    try:
        from importlib.metadata import version

        return version({"ai-edge-litert": "ai-edge-litert", "tflite-runtime": "tflite-runtime",
                        "tensorflow.lite": "tensorflow"}[_RUNTIME])
    except Exception:
        return "unknown"


class TFLiteBackend(Backend):
    name = "tflite"
    image_format = "NHWC"
    devices = ("cpu",)
    threads_label = "threads"

    def load(self) -> None:
        model_path, threads = self.model_path, self.threads
        input_names = self.wanted_inputs
        try:
            self.interpreter = Interpreter(model_path=model_path,
                                           num_threads=threads)
            self.interpreter.allocate_tensors()
        except Exception as exc:
            raise HarnessError(f"TFLite cannot load {model_path}: {first_line(exc)}") from None
        details = self.interpreter.get_input_details()
        by_name = {d["name"]: d for d in details}
        names = match_names(list(input_names), list(by_name), "input(s)", model_path)
        if len(names) != len(details):
            raise HarnessError(f"{model_path}: the model has inputs {list(by_name)}, "
                               f"the harness feeds {list(input_names)}")
        self.inputs = [by_name[n] for n in names]
        out_details = {d["name"]: d for d in self.interpreter.get_output_details()}
        wanted = match_names(self.wanted_outputs, list(out_details), "output(s)",
                             model_path)
        self.output_index = [out_details[n]["index"] for n in wanted]
        signature = self.inputs[0].get("shape_signature")
        if signature is None or len(signature) == 0:
            signature = self.inputs[0]["shape"]
        dynamic = int(signature[0]) < 0
        self.max_batch = None if dynamic else int(signature[0])
        self.dynamic = dynamic
        self._batch = int(self.inputs[0]["shape"][0])
        self._lock = threading.Lock()

    def runtime(self) -> str:
        return f"tflite ({_RUNTIME} {_version()}), device: cpu"

    def _resize(self, size: int) -> None:
        if size == self._batch:
            return
        if not self.dynamic:
            raise HarnessError(f"the model takes batches of {self._batch}, got {size}")
        for detail in self.inputs:
            shape = list(detail["shape"])
            shape[0] = size
            self.interpreter.resize_tensor_input(detail["index"], shape)
        self.interpreter.allocate_tensors()
        self._batch = size

    def infer(self, arrays) -> List[np.ndarray]:
        with self._lock:
            self._resize(int(arrays[0].shape[0]))
            for detail, array in zip(self.inputs, arrays):
                self.interpreter.set_tensor(detail["index"],
                                           np.ascontiguousarray(array, dtype=detail["dtype"]))
            self.interpreter.invoke()
            # get_tensor copies: the results outlive the next invoke.
            return [self.interpreter.get_tensor(i) for i in self.output_index]
