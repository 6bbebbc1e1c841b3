"""The reference's dlrm-v2 weights: a torchsnapshot folder of torchrec's ``DLRM_DCN`` (97.31 GB,
MLCommons R2 ``dlrm-v2-model-weights.uri``). Loading it needs torchrec and fbgemm-gpu (sharded
embedding tables), which no image here carries, so a checkpoint folder is refused with the reason;
the pytorch backend loads a TorchScript module of the harness's DLRM signature instead (the
stand-in, or a user's export passed with --model)."""

from __future__ import annotations

import importlib.util
import os

from mlperf_harness.errors import HarnessError

SNAPSHOT_MARKER = ".snapshot_metadata"  # what torchsnapshot writes at a checkpoint's top


def torchrec_available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("torchrec", "torchsnapshot"))


def check_model(model_path: str) -> None:
    """Refuse the reference's checkpoint folder (or any folder) with the reason; files pass."""
    if not os.path.isdir(model_path):
        return
    snapshot = os.path.isfile(os.path.join(model_path, SNAPSHOT_MARKER))
    what = "the reference's DLRM_DCN torchsnapshot checkpoint" if snapshot else "a folder"
    if not torchrec_available():
        raise HarnessError(f"{model_path} is {what}: loading it needs torchrec, torchsnapshot and "
                           "fbgemm-gpu, which this image does not carry; export the model to TorchScript "
                           "(dense [B,13] float32, sparse [B,214] int32 -> probability [B]) and pass the file")
    raise HarnessError(f"{model_path} is {what}: torchrec is installed, but this harness loads a TorchScript "
                       "export only (dense [B,13] float32, sparse [B,214] int32 -> probability [B])")
