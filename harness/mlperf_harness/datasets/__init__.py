"""Datasets by name: each opens a folder and yields preprocessed samples.

A dataset object has ``len()``, ``load(index)`` (one sample: an array, or a
tuple of arrays for multi-input models) and ``sample_spec`` (one
``(shape, dtype)`` per model input). ``--dataset-args key=value,...`` options
are declared here, per dataset, so they are checked before anything runs.
"""

from __future__ import annotations

import importlib
from typing import Dict, Optional

from mlperf_harness.errors import HarnessError

# name -> (module, class); imported lazily so unused datasets cost nothing.
_DATASETS = {
    "imagenet": ("mlperf_harness.datasets.imagenet", "ImagenetDataset"),
    "squad": ("mlperf_harness.datasets.squad", "SquadDataset"),
}

# --dataset-args each dataset accepts: key -> (kind, help). Kinds: path, int, choice:A|B.
DATASET_ARGS: Dict[str, Dict[str, tuple]] = {
    "imagenet": {
        "cache_dir": ("path", "keep preprocessed samples as .npy files here (created; "
                              "reused by later runs)"),
        "layout": ("choice:NCHW|NHWC", "override the backend's image layout"),
    },
    "squad": {
        "vocab_file": ("path", "WordPiece vocabulary (default: vocab.txt in the dataset "
                               "folder, else beside the model)"),
        "cache_dir": ("path", "keep the tokenized features here (created; reused)"),
    },
}


def parse_dataset_args(dataset: str, text: Optional[str]) -> Dict[str, object]:
    """'key=value,key=value' -> {key: value}, checked against ``dataset``'s options."""
    known = DATASET_ARGS.get(dataset, {})
    result: Dict[str, object] = {}
    if not text:
        return result
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise HarnessError(f"--dataset-args: expected key=value, got {item.strip()!r}")
        if key not in known:
            choices = ", ".join(sorted(known)) or "none"
            raise HarnessError(f"--dataset-args: unknown key {key!r} for the {dataset} dataset "
                               f"(known: {choices})")
        if key in result:
            raise HarnessError(f"--dataset-args: {key} given twice")
        if not value:
            raise HarnessError(f"--dataset-args: {key} needs a value")
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


def dataset_class(name: str):
    try:
        module_name, class_name = _DATASETS[name]
    except KeyError:
        raise HarnessError(f"unknown dataset {name!r}; known: {', '.join(sorted(_DATASETS))}") from None
    return getattr(importlib.import_module(module_name), class_name)


def open_dataset(name: str, path: str, count: Optional[int] = None, **options):
    """Open dataset ``name`` at ``path``, limited to its first ``count`` samples.

    ``options``: the parsed --dataset-args plus what the harness knows (e.g.
    ``layout`` from the backend, ``model_path``)."""
    return dataset_class(name).open(path, count, **options)
