"""The MLPerf models: one folder per model family (models/<family>/: dataset,
pre/post-processing, accuracy script, stand-in generators) for the code facts,
images.yaml's ``models:`` section for the data facts (LoadGen key, performance
sample count, dataset name).

The spec is read from $MLPERF_SPEC, else contract.IN_IMAGE_SPEC (the build puts
it there), else the repository's images.yaml (host tests). A model's family is
its LoadGen key (bert-99 and bert-99.9 -> models/bert).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional

from mlperf_harness.contract import IN_IMAGE_SPEC
from mlperf_harness.errors import HarnessError
from mlperf_harness.models.common import ModelCode, parse_dataset_args

_REPO_SPEC = Path(__file__).resolve().parents[3] / "images.yaml"


def spec_path() -> Path:
    env = os.environ.get("MLPERF_SPEC")
    if env:
        return Path(env)
    return Path(IN_IMAGE_SPEC) if os.path.isfile(IN_IMAGE_SPEC) else _REPO_SPEC


@lru_cache(maxsize=None)
def _spec_models(path: str) -> Dict[str, dict]:
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise HarnessError(f"cannot read the model table {path} ({exc.strerror}); "
                           "set MLPERF_SPEC to images.yaml") from None
    except yaml.YAMLError as exc:
        raise HarnessError(f"{path} is not valid YAML ({str(exc).splitlines()[0]})") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict):
        raise HarnessError(f"{path} has no `models:` section")
    return models


# LoadGen keys that are not valid Python package names -> their model folder.
_PACKAGES = {"3d-unet": "unet3d", "stable-diffusion-xl": "sdxl",
             "llama2-70b-interactive": "llama2_70b"}  # its LoadGen settings only differ


def family_module(family: str) -> str:
    family = _PACKAGES.get(family, family)
    return f"mlperf_harness.models.{family.replace('-', '_').replace('.', '_')}"


def _code(family: Optional[str]) -> Optional[ModelCode]:
    """The model folder's CODE, or None when there is no folder for ``family``."""
    if not family:
        return None
    name = family_module(family)
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name).CODE


@dataclass(frozen=True)
class ModelInfo:
    name: str  # MLPerf benchmark name, also the results folder name
    loadgen_key: Optional[str]  # model key in mlperf.conf / user.conf
    perf_sample_count: Optional[int]  # MLPerf performance sample count; None = whole dataset
    dataset: Optional[str] = None  # dataset name; None = not runnable by this harness yet
    code: ModelCode = ModelCode()  # the model folder's facts (empty: no folder)

    # The code facts, by their old names.
    input_names = property(lambda self: self.code.input_names)
    input_aliases = property(lambda self: self.code.input_aliases)
    outputs = property(lambda self: self.code.outputs)
    output_names = property(lambda self: self.code.output_names)
    postprocess = property(lambda self: self.code.postprocess)
    input_data_types = property(lambda self: self.code.input_data_types)
    response_dtype = property(lambda self: self.code.response_dtype)
    responses = property(lambda self: self.code.responses)
    max_batch = property(lambda self: self.code.max_batch)
    scenarios = property(lambda self: self.code.scenarios)

    def infer(self):
        """(backend, batch) -> outputs: the model's own inference routine, else backend.run."""
        if self.code.infer:
            return self.code.load("infer")
        return lambda backend, batch: backend.run(batch)

    @property
    def input_name(self) -> Optional[str]:
        return self.input_names[0] if self.input_names else None

    def open_dataset(self, path: str, count: Optional[int] = None, **options):
        """Open this model's dataset at ``path``, limited to its first ``count`` samples.

        ``options``: the parsed --dataset_args plus what the harness knows (``layout``
        from the backend, ``model_path``)."""
        return self.code.load("dataset_class").open(path, count, **options)

    def scorer(self):
        """The accuracy module: ``score(log, dataset, expect_total)`` -> result."""
        return self.code.load("accuracy")

    def parse_dataset_args(self, text: Optional[str]) -> Dict[str, object]:
        """'key=value,...' -> {key: value}, checked against this model's dataset options."""
        return parse_dataset_args(self.dataset or "?", self.code.dataset_args, text)


def _info(name: str, entry: dict) -> ModelInfo:
    key = entry.get("loadgen_key")
    code = _code(key) if entry.get("backends") else None
    return ModelInfo(name=name, loadgen_key=key,
                     perf_sample_count=entry.get("performance_sample_count"),
                     dataset=entry.get("dataset") if code else None, code=code or ModelCode())


def all_models() -> Dict[str, ModelInfo]:
    return {name: _info(name, entry or {}) for name, entry in _spec_models(str(spec_path())).items()}


def supported_models() -> List[str]:
    """Models this harness can run end to end."""
    return [m.name for m in all_models().values() if m.dataset is not None]


def get_model(name: str) -> ModelInfo:
    models = all_models()
    try:
        return models[name]
    except KeyError:
        raise HarnessError(f"unknown model {name!r}; known: {', '.join(models)}") from None


def perf_sample_count(model: ModelInfo, total: int) -> int:
    """performance_sample_count: the model's MLPerf figure, capped by the samples in use."""
    if model.perf_sample_count is None:
        return total
    return min(total, model.perf_sample_count)


def standin_module(name: str) -> str:
    """images.yaml's stand-in name (resnet50, resnet50_tf, bert_pytorch) -> its generator module
    (mlperf_harness.models.resnet50.standin, ....standin_tf, ...). Host only: generators import
    the frameworks they export to."""
    family, _, variant = name.partition("_")
    return f"{family_module(family)}.standin" + (f"_{variant}" if variant else "")
