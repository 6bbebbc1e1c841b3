"""TensorFlow backend: a frozen GraphDef (.pb), as the reference's
resnet50_v1.pb, run in a TF1-style session.

Inputs and outputs are graph tensors named as in the reference
(``input_tensor:0``, ``ArgMax:0``). Image models take NHWC. Threads:
--threads sets the intra-op pool (and inter-op to the same), otherwise
TensorFlow's defaults apply.
"""

from __future__ import annotations

import os
from typing import List

import numpy as np

from mlperf_harness.backends.base import Backend
from mlperf_harness.backends.common import first_line, fixed_batch
from mlperf_harness.errors import HarnessError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no start-up banners on stderr

try:
    import tensorflow as tf
except ImportError as _exc:  # surfaced by backends.create_backend
    raise ImportError(f"tensorflow: {_exc}") from _exc


def _tensor_name(name: str) -> str:
    return name if ":" in name else name + ":0"


class TensorFlowBackend(Backend):
    name = "tf"
    image_format = "NHWC"

    def load(self) -> None:
        model_path, device, threads = self.model_path, self.device, self.threads
        input_names, output_names = self.wanted_inputs, self.wanted_outputs
        if os.path.isdir(model_path):
            raise HarnessError(f"{model_path} is a folder; the tf backend loads a frozen graph "
                               "(.pb GraphDef) file")
        gpus = tf.config.list_physical_devices("GPU")
        if device != "cpu" and not gpus:
            raise HarnessError(f"--device {device}: TensorFlow {tf.__version__} sees no GPU; "
                               "is the device visible in the container?")
        graph_def = tf.compat.v1.GraphDef()
        try:
            with open(model_path, "rb") as handle:
                graph_def.ParseFromString(handle.read())
        except Exception as exc:
            raise HarnessError(f"{model_path} is not a TensorFlow GraphDef: {first_line(exc)}") from None
        self.graph = tf.Graph()
        try:
            with self.graph.as_default():
                tf.compat.v1.import_graph_def(graph_def, name="")
        except Exception as exc:
            raise HarnessError(f"TensorFlow cannot import {model_path}: {first_line(exc)}") from None

        def tensor(name: str, what: str):
            try:
                return self.graph.get_tensor_by_name(_tensor_name(name))
            except (KeyError, ValueError):
                placeholders = [op.name for op in self.graph.get_operations()
                                if op.type == "Placeholder"]
                raise HarnessError(f"{model_path}: no {what} {name!r} in the graph "
                                   f"(placeholders: {', '.join(placeholders) or 'none'})") from None

        if not input_names:
            input_names = [op.name for op in self.graph.get_operations() if op.type == "Placeholder"]
        self.inputs = [tensor(n, "input") for n in input_names]
        self.fetches = [tensor(n, "output") for n in output_names]
        config = tf.compat.v1.ConfigProto()
        if threads:
            config.intra_op_parallelism_threads = threads
            config.inter_op_parallelism_threads = threads
        if device == "cpu":
            config.device_count["GPU"] = 0
        self.session = tf.compat.v1.Session(graph=self.graph, config=config)
        shape = self.inputs[0].shape
        self.max_batch = fixed_batch(shape[0] if shape.rank else None)

    def runtime(self) -> str:
        return f"tensorflow {tf.__version__}, device: {self.device}"

    def infer(self, inputs) -> List[np.ndarray]:
        return self.session.run(self.fetches, feed_dict=dict(zip(self.inputs, inputs)))
