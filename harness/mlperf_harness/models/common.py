"""What a model folder declares (its ``CODE``), and --dataset_args checking."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Sequence, Tuple

from mlperf_harness.contract import SettingsError, parse_key_values
from mlperf_harness.errors import HarnessError


@dataclass(frozen=True)
class ModelCode:
    """The code facts of one model family (the data facts are in images.yaml)."""

    # The model's inputs, in the order the dataset yields them (names as in the reference's
    # ONNX / TF graphs); a backend maps them onto its model's own inputs.
    input_names: Tuple[str, ...] = ()
    # Every output of the reference model, in its order (positional outputs, e.g. a
    # TorchScript tuple, are named by this), and the ones the harness fetches.
    outputs: Tuple[str, ...] = ()
    output_names: Tuple[str, ...] = ()
    postprocess: Optional[Callable[[Sequence], object]] = None  # outputs -> response array
    # Models whose responses differ in size per sample (detections): the outputs of one batch and
    # the samples' QSL indices -> one response array per sample; used instead of postprocess.
    responses: Optional[Callable[[Sequence, Sequence[int]], Sequence]] = None
    # "module:function" (backend, batch) -> outputs, run instead of backend.run for models whose
    # inference is more than one model call (3d-unet's sliding window over a whole volume).
    infer: Optional[str] = None
    # The model's batching rule: largest batch it takes (None: --max_batchsize decides), and the
    # scenarios the reference runs it in (empty: all four).
    max_batch: Optional[int] = None
    scenarios: Tuple[str, ...] = ()
    input_data_types: str = "fp32"  # measurements.json
    # numpy dtype of one response element (TEST01 compares responses element-wise, as the
    # official verify_accuracy.py --dtype does)
    response_dtype: str = "byte"
    # "module:Class" of the dataset reader and the accuracy module, imported when used.
    dataset_class: Optional[str] = None
    accuracy: Optional[str] = None
    # --dataset_args the dataset accepts: key -> (kind, help). Kinds: path, int, choice:A|B.
    dataset_args: Dict[str, tuple] = field(default_factory=dict)

    def load(self, what: str):
        """Import the module (and attribute) named by field ``what``."""
        target = getattr(self, what)
        if not target:
            raise HarnessError(f"this model has no {what.replace('_', ' ')}")
        module, _, attribute = target.partition(":")
        loaded = importlib.import_module(module)
        return getattr(loaded, attribute) if attribute else loaded


def parse_dataset_args(dataset: str, known: Dict[str, tuple],
                       text: Optional[str]) -> Dict[str, object]:
    """'key=value,key=value' -> {key: value}, checked against ``dataset``'s options ``known``."""
    try:
        pairs = parse_key_values(text, "--dataset-args")
    except SettingsError as exc:
        raise HarnessError(str(exc)) from None
    result: Dict[str, object] = {}
    for key, value in pairs:
        if key not in known:
            choices = ", ".join(sorted(known)) or "none"
            raise HarnessError(f"--dataset-args: unknown key {key!r} for the {dataset} dataset "
                               f"(known: {choices})")
        kind = known[key][0]
        if kind == "int":
            try:
                result[key] = int(value)
            except ValueError:
                raise HarnessError(f"--dataset-args: {key}={value!r} is not an integer") from None
        elif kind.startswith("choice:"):
            choices = kind.split(":", 1)[1].split("|")
            if value not in choices:
                raise HarnessError(f"--dataset-args: {key} must be one of {', '.join(choices)}")
            result[key] = value
        else:
            result[key] = value
    return result
