"""Datasets by name: each opens a folder and yields preprocessed samples."""

from __future__ import annotations

import importlib
from typing import Optional

from mlperf_harness.errors import HarnessError

# name -> (module, class); imported lazily so unused datasets cost nothing.
_DATASETS = {
    "imagenet": ("mlperf_harness.datasets.imagenet", "ImagenetDataset"),
}


def open_dataset(name: str, path: str, count: Optional[int] = None):
    """Open dataset ``name`` at ``path``, limited to its first ``count`` samples."""
    try:
        module_name, class_name = _DATASETS[name]
    except KeyError:
        raise HarnessError(f"unknown dataset {name!r}; known: {', '.join(sorted(_DATASETS))}") from None
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.open(path, count)
