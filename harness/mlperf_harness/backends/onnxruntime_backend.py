"""ONNX Runtime backend.

Unlike the reference (which always asks for CUDA and silently falls back
to CPU), the execution providers follow --device; the ones actually in use
are reported, and a requested accelerator that onnxruntime cannot use is an
error rather than a CPU run under the accelerator's name.
"""

from __future__ import annotations

import warnings
from typing import List

import numpy as np

from mlperf_harness.backends.base import Backend
from mlperf_harness.backends.common import first_line, fixed_batch, match_names
from mlperf_harness.convert_fp16 import PRECISION_KEY
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


class OnnxRuntimeBackend(Backend):
    # int8: a quantized model file (QDQ / integer ops), run as it is. float16: a model converted to half
    # (the cuda/rocm images' build-time converter, mlperf_harness/convert_fp16.py), float32 inputs/outputs.
    precisions = ("fp32", "int8", "float16")
    name = "onnxruntime"
    image_format = "NCHW"

    def load(self) -> None:
        model_path, device = self.model_path, self.device
        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
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
            raise HarnessError(f"onnxruntime cannot load {model_path}: {first_line(exc)}") from None
        self.providers: List[str] = list(self.session.get_providers())
        if wanted[0] not in self.providers:
            # ORT falls back to CPU silently when the accelerator cannot start
            # (no device passed to the container, driver mismatch): refuse to
            # report CPU numbers as accelerator numbers.
            raise HarnessError(
                f"--device {device}: onnxruntime could not start {wanted[0]} "
                f"(would run on {', '.join(self.providers)}); is the device visible "
                "in the container?")

        if self.precision == "float16":
            marked = self.session.get_modelmeta().custom_metadata_map.get(PRECISION_KEY)
            if marked != "float16":
                raise HarnessError(f"--precision float16: {model_path} is not a converted float16 model "
                                   "(convert an fp32 one with python -m mlperf_harness.convert_fp16)")
        inputs = self.session.get_inputs()
        self.input_names = match_names(self.wanted_inputs, [i.name for i in inputs], "input(s)",
                                       model_path, aliases=self.input_aliases)
        if len(self.input_names) != len(inputs):
            raise HarnessError(f"{model_path}: the model has inputs {[i.name for i in inputs]}, "
                               f"the harness feeds {self.wanted_inputs}")
        self.output_names = match_names(self.wanted_outputs,
                                        [o.name for o in self.session.get_outputs()],
                                        "output(s)", model_path)
        first = {i.name: i for i in inputs}[self.input_names[0]]
        self.max_batch = fixed_batch(first.shape[0] if first.shape else None)

    def runtime(self) -> str:
        return f"onnxruntime {ort.__version__}, providers: {', '.join(self.providers)}"

    def infer(self, inputs) -> List[np.ndarray]:
        return self.session.run(self.output_names, dict(zip(self.input_names, inputs)))
