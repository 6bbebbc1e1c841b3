"""Checks that can happen on the host happen there, before any folder is made (one line, exit 2).

Every user path is resolved (symlinks followed) and checked before the container starts; `--model`
binds the resolved file itself, read-only, never its folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from launcher.errors import UsageError

# The harness's rule for a results-tree name (mlperf_harness.results.check_name).
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def hw_name_ok(name: str) -> bool:
    """--hw_name, once spaces and the like become _, is one plain path component (the harness's rule)."""
    return bool(_SAFE_NAME.match(_UNSAFE.sub("_", name)))


def dataset_args(model: str, text: str | None, known: dict[str, tuple] | None = None,
                 dataset: str | None = None) -> None:
    """--dataset_args keys must be ones the model's dataset takes (the harness's model folder declares them)."""
    if not text:
        return
    if known is None:
        from mlperf_harness.errors import HarnessError
        from mlperf_harness.models import get_model

        try:
            info = get_model(model)
        except HarnessError:  # a model the harness does not know: it says so itself
            return
        known, dataset = info.code.dataset_args, info.dataset
    seen = set()
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key:
            raise UsageError(f"--dataset_args {text!r}: expected key=value[,key=value]")
        if key not in known:
            raise UsageError(f"--dataset_args: unknown key {key!r} for the {dataset or model} dataset "
                             f"(known: {', '.join(sorted(known)) or 'none'})")
        if key in seen:
            raise UsageError(f"--dataset_args: {key} given twice")
        if not value:
            raise UsageError(f"--dataset_args: {key} needs a value")
        seen.add(key)


@dataclass(frozen=True)
class FileBind:
    """A single host file bound read-only at target (its folder never reaches the container)."""

    source: Path  # resolved
    target: str


def model_file(path: Path | None, folder: str, checkpoint_dir: bool = False) -> FileBind | None:
    """--model FILE: resolved (symlinks), a regular file, bound as <folder>/<name the user gave>.
    ``checkpoint_dir`` (generative models): --model DIR, a Hugging Face checkpoint folder (config.json; a
    diffusers pipeline: model_index.json, or the reference's sdxl layout checkpoint_pipe/model_index.json)."""
    if path is None:
        return None
    resolved = existing_path("--model", path)
    if checkpoint_dir:
        markers = ("config.json", "model_index.json", "checkpoint_pipe/model_index.json")
        if not any((resolved / marker).is_file() for marker in markers):
            raise UsageError(f"--model {path}: not a checkpoint folder (no config.json or model_index.json)")
    elif not resolved.is_file():
        raise UsageError(f"--model {path}: not a file")
    return FileBind(resolved, f"{folder}/{path.name}")


def existing_path(flag: str, path: Path, folder: bool = False) -> Path:
    """A user path, resolved through symlinks and checked to exist (and be a folder if asked)."""
    try:
        resolved = path.expanduser().resolve(strict=True)
    except (OSError, RuntimeError):
        raise UsageError(f"{flag} {path}: no such {'folder' if folder else 'file'}") from None
    if folder and not resolved.is_dir():
        raise UsageError(f"{flag} {path}: not a folder")
    return resolved


TVM_TARGET_LABEL = "io.mlperf-docker.tvm-target"


def tvm_cpu(labels: dict[str, str], flags: set[str] | None = None) -> None:
    """A TVM image compiled for CPU features this host lacks (its label's target against /proc/cpuinfo):
    refused before a container starts or anything is written, naming the missing features."""
    from mlperf_harness.backends import tvm_target

    target = labels.get(TVM_TARGET_LABEL)
    if not target:
        return
    try:
        needed = tvm_target.features(target)
    except ValueError:
        return  # a target this launcher does not parse (an older image): the harness checks it in the container
    missing = tvm_target.missing_features(needed, tvm_target.host_flags() if flags is None else flags)
    if missing:
        raise UsageError(f"the image's model was compiled by TVM for {target!r}, which needs CPU features this "
                         f"CPU lacks ({', '.join(missing)}; /proc/cpuinfo): build for this CPU with another "
                         f"--tvm-target (e.g. llvm)")
