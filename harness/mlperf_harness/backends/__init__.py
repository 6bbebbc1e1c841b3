"""Framework backends by name.

A backend loads a model file and runs batches::

    backend = create_backend("onnxruntime", model_path, device="cpu", threads=None,
                             input_name="input_tensor:0", output_names=("ArgMax:0",))
    outputs = backend.run(batch)      # list of arrays, in output_names order
    backend.providers                 # what actually executes, for the report
    backend.max_batch                 # fixed batch dimension of the model, or None

Backends are imported lazily so an image carrying one framework never
imports another.
"""

from __future__ import annotations

import importlib

from mlperf_harness.errors import HarnessError

# name -> (module, class)
_BACKENDS = {
    "onnxruntime": ("mlperf_harness.backends.onnxruntime_backend", "OnnxRuntimeBackend"),
}


def backend_names():
    return sorted(_BACKENDS)


def create_backend(name: str, model_path: str, **options):
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
