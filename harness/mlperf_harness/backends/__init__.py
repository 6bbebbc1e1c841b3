"""Framework backends by name (the names images.yaml uses).

A backend loads a model file and runs batches::

    backend = create_backend("onnxruntime", model_path, device="cpu", threads=None,
                             input_names=("input_tensor:0",), outputs=(...),
                             output_names=("ArgMax:0",))
    outputs = backend.run(batch)      # list of arrays, in output_names order
    backend.describe()                # framework, version, what actually executes, threads
    backend.max_batch                 # fixed batch dimension of the model, or None
    backend.image_format              # "NCHW" or "NHWC": the layout image models expect

``batch`` is one array for a single-input model, or a tuple of arrays in
``input_names`` order (bert: input_ids, input_mask, segment_ids).

Backends are imported lazily so an image carrying one framework never
imports another.
"""

from __future__ import annotations

import importlib

from mlperf_harness.errors import HarnessError

# name -> (module, class)
_BACKENDS = {
    "onnxruntime": ("mlperf_harness.backends.onnxruntime_backend", "OnnxRuntimeBackend"),
    "pytorch": ("mlperf_harness.backends.pytorch_backend", "PyTorchBackend"),
    "tf": ("mlperf_harness.backends.tf_backend", "TensorFlowBackend"),
    "tflite": ("mlperf_harness.backends.tflite_backend", "TFLiteBackend"),
    "ncnn": ("mlperf_harness.backends.ncnn_backend", "NcnnBackend"),
    "deepsparse": ("mlperf_harness.backends.deepsparse_backend", "DeepSparseBackend"),
    "tvm-onnx": ("mlperf_harness.backends.tvm_backend", "TVMOnnxBackend"),
    "tvm-pytorch": ("mlperf_harness.backends.tvm_backend", "TVMPyTorchBackend"),
    "tvm-tflite": ("mlperf_harness.backends.tvm_backend", "TVMTFLiteBackend"),
    "ray": ("mlperf_harness.backends.ray_backend", "RayBackend"),
}
_ALIASES = {"tensorflow": "tf"}

# The layout each backend's image models take (as the reference: TF and TFLite
# are NHWC, ONNX and PyTorch NCHW); known without importing the framework.
IMAGE_FORMATS = {"onnxruntime": "NCHW", "pytorch": "NCHW", "tf": "NHWC", "tflite": "NHWC",
                 "ncnn": "NCHW", "deepsparse": "NCHW", "tvm-onnx": "NCHW", "tvm-pytorch": "NCHW",
                 "tvm-tflite": "NHWC", "ray": "NCHW"}


def backend_names():
    return sorted(_BACKENDS)


def canonical(name: str) -> str:
    return _ALIASES.get(name, name)


def create_backend(name: str, model_path: str, **options):
    name = canonical(name)
    try:
        module_name, class_name = _BACKENDS[name]
    except KeyError:
        raise HarnessError(
            f"unknown backend {name!r}; known: {', '.join(backend_names())}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HarnessError(f"backend {name} is not installed in this image ({exc})") from None
    return getattr(module, class_name)(model_path, **options)
