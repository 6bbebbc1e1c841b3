"""ncnn backend: a ``.ncnn.param`` + ``.ncnn.bin`` pair run by ncnn's Net on the CPU.

As the reference's backend_ncnn.py: the model is converted by pnnx (here from the
ONNX model, at image build time: backends/ncnn_convert.py), its input blob is
``in0`` and its outputs ``out0``, ``out1``, ... in the ONNX model's output order;
one image per extractor (ncnn Mats have no batch dimension), so a batch is run
image by image. The ``.bin`` is read from beside the ``.param``.

ncnn has no ArgMax layer; the converter turns one into a Noop, so its blob holds
the scores the ArgMax took (the reference's ncnn model likewise ends at the fc
scores and main.py takes the argmax). For an output that the model's signature
names as an ArgMax, the backend returns the argmax of that blob.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np

from mlperf_harness.backends.base import Backend
from mlperf_harness.backends.common import bare
from mlperf_harness.errors import HarnessError

try:
    import ncnn
except ImportError as _exc:  # surfaced by backends.create_backend
    raise ImportError(f"ncnn: {_exc}") from _exc

INPUT_BLOB = "in0"  # pnnx's names, as the reference's ncnn_models/resnet50.py
PARAM_SUFFIX, BIN_SUFFIX = ".ncnn.param", ".ncnn.bin"


def bin_path(param_path: str) -> Path:
    """X.ncnn.param -> X.ncnn.bin (X.param -> X.bin)."""
    path = Path(param_path)
    if path.name.endswith(PARAM_SUFFIX):
        return path.with_name(path.name[: -len(PARAM_SUFFIX)] + BIN_SUFFIX)
    return path.with_suffix(".bin")


def is_argmax(name: str) -> bool:
    return bare(name).rsplit("/", 1)[-1].lower() == "argmax"


class NcnnBackend(Backend):
    name = "ncnn"
    image_format = "NCHW"
    devices = ("cpu",)
    threads_label = "threads"

    def load(self) -> None:
        weights = bin_path(self.model_path)
        if not weights.is_file():
            raise HarnessError(f"ncnn needs the weights {weights.name} beside {self.model_path}")
        self.net = ncnn.Net()
        self.net.opt.use_vulkan_compute = False
        if self.threads:
            self.net.opt.num_threads = self.threads
        if self.net.load_param(self.model_path) != 0 or self.net.load_model(str(weights)) != 0:
            raise HarnessError(f"ncnn cannot load {self.model_path} (+ {weights.name}): "
                               f"see ncnn's message above")
        inputs = list(self.net.input_names())
        if inputs != [INPUT_BLOB]:
            raise HarnessError(f"{self.model_path}: ncnn input blobs {inputs}, expected [{INPUT_BLOB!r}] "
                               f"(a pnnx conversion)")
        # The model's outputs in signature order are out0, out1, ...; fetch the wanted ones.
        blobs = {f"out{i}" for i in range(len(self.outputs))}
        missing = sorted(blobs - set(self.net.output_names()))
        if missing:
            raise HarnessError(f"{self.model_path}: no blob(s) {', '.join(missing)} for the outputs "
                               f"{', '.join(self.outputs)}")
        self.fetch = []
        for name in self.wanted_outputs:
            if name not in self.outputs:
                raise HarnessError(f"{self.model_path}: output {name} is not one of {', '.join(self.outputs)}")
            self.fetch.append((f"out{self.outputs.index(name)}", is_argmax(name)))

    def runtime(self) -> str:
        return f"ncnn {ncnn.__version__}, device: cpu"

    def threads_in_use(self):
        return self.net.opt.num_threads

    def _one(self, image: np.ndarray) -> List[np.ndarray]:
        extractor = self.net.create_extractor()
        try:
            extractor.input(INPUT_BLOB, ncnn.Mat(np.ascontiguousarray(image, dtype=np.float32)))
            out = []
            for blob, argmax in self.fetch:
                status, mat = extractor.extract(blob)
                if status != 0:
                    raise HarnessError(f"ncnn: extracting {blob} failed ({status})")
                values = np.array(mat).reshape(-1)
                out.append(np.array(values.argmax(), dtype=np.int64) if argmax else values.copy())
            return out
        finally:
            extractor.clear()

    def infer(self, arrays) -> List[np.ndarray]:
        # ncnn's Net is shared by the worker threads; each image gets its own extractor.
        rows = [self._one(image) for image in arrays[0]]
        return [np.stack([row[i] for row in rows]) for i in range(len(self.fetch))]
