"""The backend base class: what the four framework backends share (no framework imports here).

A subclass sets ``name`` (and ``image_format`` / ``devices`` where they differ) and
implements ``load`` (open the model for ``self.device`` with ``self.threads``),
``infer`` (a tuple of input arrays -> the fetched outputs) and ``runtime`` (the
framework and what actually executes, for ``describe``).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mlperf_harness.backends.common import as_inputs, check_model_file
from mlperf_harness.errors import HarnessError


class Backend:
    name = "?"
    image_format = "NCHW"  # the layout image models take
    devices: Tuple[str, ...] = ("cpu", "cuda", "rocm")
    max_batch: Optional[int] = None  # fixed batch dimension of the model, or None
    threads_label = "intra-op threads"
    precisions: Tuple[str, ...] = ("fp32",)  # what the backend can run a model in

    def __init__(
        self,
        model_path: str,
        device: str = "cpu",
        threads: Optional[int] = None,
        input_names: Sequence[str] = (),
        outputs: Sequence[str] = (),
        output_names: Sequence[str] = (),
        precision: str = "fp32",
        input_aliases: Optional[Dict[str, Tuple[str, ...]]] = None,
    ) -> None:
        check_model_file(model_path)
        if precision not in self.precisions:
            raise HarnessError(f"--precision {precision}: the {self.name} backend runs "
                               f"{', '.join(self.precisions)} only")
        self.precision = precision
        if device not in self.devices:
            raise HarnessError(f"--device {device}: the {self.name} backend runs on the "
                               f"{'CPU' if self.devices == ('cpu',) else ', '.join(self.devices)}"
                               f" only")
        self.model_path = model_path
        self.device = device
        self.threads = int(threads) if threads else None
        self.wanted_inputs = list(input_names)  # in the order the dataset yields them
        self.input_aliases = dict(input_aliases or {})  # other names a model may give them
        self.outputs = list(outputs) or list(output_names)  # every output, positional order
        self.wanted_outputs = list(output_names) or list(self.outputs)  # the ones fetched
        self.load()

    def load(self) -> None:
        raise NotImplementedError

    def infer(self, inputs: Tuple[np.ndarray, ...]) -> List[np.ndarray]:
        raise NotImplementedError

    def runtime(self) -> str:
        raise NotImplementedError

    def threads_in_use(self):
        return self.threads or "default"

    def describe(self) -> str:
        """Framework, version, what actually executes, threads."""
        precision = "" if self.precision == "fp32" else f", precision: {self.precision}"
        return f"{self.runtime()}{precision}, {self.threads_label}: {self.threads_in_use()}"

    def run(self, batch) -> List[np.ndarray]:
        """One array, or a tuple of arrays in input order -> outputs in output_names order."""
        return self.infer(as_inputs(batch))
