"""Helpers shared by the backends (no framework imports here)."""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mlperf_harness.errors import HarnessError


def as_inputs(batch) -> Tuple[np.ndarray, ...]:
    """One array or a tuple/list of arrays -> a tuple of arrays."""
    if isinstance(batch, (tuple, list)):
        return tuple(batch)
    return (batch,)


def bare(name: str) -> str:
    """'input_tensor:0' -> 'input_tensor' (TF tensor names vs. op / TFLite names)."""
    head, sep, tail = name.rpartition(":")
    return head if sep and tail.isdigit() else name


def match_names(wanted: Sequence[str], available: Sequence[str], what: str,
                model_path: str, aliases: Optional[Dict[str, Sequence[str]]] = None) -> List[str]:
    """For each wanted name, the model's name for it: an exact match, else one
    equal up to a ':0' suffix, else one of its ``aliases``; a single wanted input
    with a single available one matches whatever its name. Missing ones are an error."""
    if not wanted:
        return list(available)
    if len(wanted) == 1 and len(available) == 1:
        return list(available)
    by_bare: Dict[str, str] = {}
    for name in available:
        by_bare.setdefault(bare(name), name)
    found, missing = [], []
    for name in wanted:
        if name in available:
            found.append(name)
        elif bare(name) in by_bare:
            found.append(by_bare[bare(name)])
        elif other := next((a for a in (aliases or {}).get(name, ()) if a in available), None):
            found.append(other)
        else:
            missing.append(name)
    if missing:
        raise HarnessError(f"{model_path}: {what} {', '.join(missing)} not in the model "
                           f"(it has {', '.join(available) or 'none'})")
    return found


def fixed_batch(dim) -> Optional[int]:
    return dim if isinstance(dim, int) and dim > 0 else None


def check_model_file(model_path: str) -> None:
    if not os.path.exists(model_path):
        raise HarnessError(f"model file {model_path} not found")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
