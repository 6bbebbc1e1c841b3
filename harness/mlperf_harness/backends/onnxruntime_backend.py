"""ONNX Runtime backend.

Unlike the reference (which always asks for CUDA and silently falls back
to CPU), the execution providers follow --device; the ones actually in use
are reported, and a requested accelerator that onnxruntime cannot use is an
error rather than a CPU run under the accelerator's name.
"""

from __future__ import annotations

import os
import warnings
from typing import List, Optional, Sequence

import numpy as np

from mlperf_harness.errors import HarnessError

try:
    import onnxruntime as ort
except ImportError as _exc:  # surfaced by backends.create_backend
    raise ImportError(f"onnxruntime: {_exc}") from _exc

PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "rocm": ["ROCMExecutionProvider", "CPUExecutionProvider"],
}


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(
        self,
        model_path: str,
        device: str = "cpu",
        threads: Optional[int] = None,
        input_name: Optional[str] = None,
        output_names: Sequence[str] = (),
    ) -> None:
        if device not in PROVIDERS:
            raise HarnessError(
                f"onnxruntime: unknown device {device!r}; choose {', '.join(PROVIDERS)}")
        if not os.path.isfile(model_path):
            raise HarnessError(f"model file {model_path} not found")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        wanted = PROVIDERS[device]
        available = ort.get_available_providers()
        if wanted[0] not in available:
            raise HarnessError(
                f"--device {device}: this onnxruntime build has no {wanted[0]} "
                f"(available: {', '.join(available)})")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # we report providers ourselves
                self.session = ort.InferenceSession(
                    model_path, sess_options=options, providers=wanted)
        except Exception as exc:  # ORT raises its own exception types
            raise HarnessError(f"onnxruntime cannot load {model_path}: {_first_line(exc)}") from None
        self.providers: List[str] = list(self.session.get_providers())
        if wanted[0] not in self.providers:
            # ORT falls back to CPU silently when the accelerator cannot start
            # (no device passed to the container, driver mismatch): refuse to
            # report CPU numbers as accelerator numbers.
            raise HarnessError(
                f"--device {device}: onnxruntime could not start {wanted[0]} "
                f"(would run on {', '.join(self.providers)}); is the device visible "
                "in the container?")

        inputs = self.session.get_inputs()
        names = [i.name for i in inputs]
        if input_name and input_name in names:
            self.input = inputs[names.index(input_name)]
        elif len(inputs) == 1:
            self.input = inputs[0]
        else:
            raise HarnessError(
                f"{model_path}: cannot pick the input (expected {input_name!r}; has {names})")
        available = [o.name for o in self.session.get_outputs()]
        missing = [n for n in output_names if n not in available]
        if missing:
            raise HarnessError(
                f"{model_path}: output(s) {', '.join(missing)} not in the model "
                f"(it has {', '.join(available)})")
        self.output_names = list(output_names) or available
        batch_dim = self.input.shape[0] if self.input.shape else None
        self.max_batch = batch_dim if isinstance(batch_dim, int) and batch_dim > 0 else None

    def describe(self) -> str:
        return f"onnxruntime {ort.__version__}, providers: {', '.join(self.providers)}"

    def run(self, batch: np.ndarray) -> List[np.ndarray]:
        return self.session.run(self.output_names, {self.input.name: batch})


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
