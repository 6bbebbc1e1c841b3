"""What a model folder declares (its ``CODE``), --dataset_args checking, and the command line
every accuracy script shares."""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Tuple

from mlperf_harness.contract import SettingsError, parse_key_values
from mlperf_harness.errors import HarnessError


@dataclass(frozen=True)
class ModelCode:
    """The code facts of one model family (the data facts are in images.yaml)."""

    # The model's inputs, in the order the dataset yields them (names as in the reference's
    # ONNX / TF graphs); a backend maps them onto its model's own inputs.
    input_names: Tuple[str, ...] = ()
    # Other names a published model of this family gives an input (input name -> its other names).
    input_aliases: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
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
    # "module:function" (model_path) -> None, raising a HarnessError for a model file the harness
    # recognises but cannot load (dlrm's torchsnapshot checkpoint folder without torchrec).
    check_model: Optional[str] = None
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
    # "module:NAME" of a generative model's LLMRules (mlperf_harness.llm): the harness runs it
    # through llm/run.py (token-streaming SUT, Hugging Face checkpoint folder) instead of a backend.
    llm: Optional[str] = None
    # "module:function" (spec, model, guarded) -> None: one LoadGen test of a model that runs a checkpoint
    # folder through its own pipeline instead of a backend (sdxl's diffusers pipeline).
    runner: Optional[str] = None
    # Why a stand-in image cannot score a user's --model in accuracy mode (its scorer's own models are the
    # stand-in's: sdxl's CLIP and FID encoders); None: the score does not depend on the image's files.
    standin_scorer: Optional[str] = None

    @property
    def folder_model(self) -> bool:
        """The model is a checkpoint folder (``--model DIR``), not one file."""
        return bool(self.llm or self.runner)

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


def accuracy_parser(model: str, description: str, dataset_help: str,
                    count_help: str) -> argparse.ArgumentParser:
    """The options every ``models/<model>/accuracy.py`` takes: --log, --dataset-path, --count, --output."""
    parser = argparse.ArgumentParser(prog=f"python -m mlperf_harness.models.{model}.accuracy",
                                     description=description)
    parser.add_argument("--log", required=True, help="mlperf_log_accuracy.json")
    parser.add_argument("--dataset-path", required=True, help=dataset_help)
    parser.add_argument("--count", type=int, help=count_help)
    parser.add_argument("--output", help="where to write accuracy.txt (default: next to --log)")
    return parser


def accuracy_main(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]],
                  score: Callable[[argparse.Namespace], object],
                  after: Optional[Callable[[argparse.Namespace, object], None]] = None) -> int:
    """Parse ``argv``, score the log (``score(args)`` -> a result with ``accuracy_txt()`` and
    ``line()``), write accuracy.txt (--output, or next to --log), run ``after`` and print the
    result line; an unreadable input is one ``error:`` line and exit status 1."""
    args = parser.parse_args(argv)
    try:
        result = score(args)
        output = Path(args.output) if args.output else Path(args.log).with_name("accuracy.txt")
        output.write_text(result.accuracy_txt(), encoding="utf-8")
        if after is not None:
            after(args, result)
    except (HarnessError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result.line())
    return 0
