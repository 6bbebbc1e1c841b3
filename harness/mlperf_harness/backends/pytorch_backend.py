"""PyTorch backend (CPU, and CUDA/ROCm where the image's torch has them).

Loads a state_dict of a reference architecture (torchvision's
resnet50-19c8e357.pth, the reference's bert model.pytorch, and the stand-ins:
tiny state_dicts of the same architectures), building the architecture as the
reference does (backends/state_dicts.py); a TorchScript archive
(``torch.jit.save``); or a whole pickled ``nn.Module`` (``torch.save(model)``,
as the reference's pytorch-native backend loads).

The module is called with the inputs in the harness's order (one tensor for
resnet50; input_ids, input_mask, segment_ids for bert). It may return a dict
keyed by the reference output names, a tuple/list in the reference model's
output order, or a single tensor (taken as the first output).
"""

from __future__ import annotations

import warnings
import zipfile
from typing import Dict, List

import numpy as np

from mlperf_harness.backends.base import Backend
from mlperf_harness.backends.common import bare, first_line
from mlperf_harness.backends.state_dicts import load_state_dict_model
from mlperf_harness.errors import HarnessError

try:
    import torch
except ImportError as _exc:  # surfaced by backends.create_backend
    raise ImportError(f"torch: {_exc}") from _exc


def _is_torchscript(path: str) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.endswith("constants.pkl") or "/code/" in n for n in names)


def _load_checkpoint(path: str):
    """A state_dict loads without running pickled code (weights_only); anything else (a whole pickled
    module) is loaded as the reference's pytorch-native backend does."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # not plain tensors: a pickled module
        return torch.load(path, map_location="cpu", weights_only=False)


class PyTorchBackend(Backend):
    name = "pytorch"
    image_format = "NCHW"
    # bfloat16 / float16: weights and floating-point inputs cast; outputs handed on as float32. (images.yaml
    # refuses float16 on the CPU; the cast itself runs there, which the harness tests use.)
    precisions = ("fp32", "bfloat16", "float16")

    def load(self) -> None:
        model_path, device = self.model_path, self.device
        if self.threads:
            torch.set_num_threads(self.threads)
        if device == "cpu":
            self.torch_device = torch.device("cpu")
        else:
            if not torch.cuda.is_available():
                raise HarnessError(
                    f"--device {device}: this torch build ({torch.__version__}) sees no GPU; "
                    "is the device visible in the container?")
            is_hip = bool(getattr(torch.version, "hip", None))
            if (device == "rocm") != is_hip:
                raise HarnessError(f"--device {device}: this torch build is for "
                                   f"{'ROCm' if is_hip else 'CUDA'}")
            self.torch_device = torch.device("cuda")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript, torch >= 2.10
                if _is_torchscript(model_path):
                    self.kind = "TorchScript"
                    model = torch.jit.load(model_path, map_location=self.torch_device)
                else:
                    model = _load_checkpoint(model_path)
                    self.kind = "pickled module"
        except Exception as exc:
            raise HarnessError(f"torch cannot load {model_path}: {first_line(exc)}") from None
        if isinstance(model, dict):
            try:
                model, self.kind = load_state_dict_model(model)
            except ValueError as exc:
                raise HarnessError(f"{model_path}: {exc}") from None
            model = model.to(self.torch_device)
        elif self.kind == "pickled module" and isinstance(model, torch.nn.Module):
            model = model.to(self.torch_device)
        if not callable(model):
            raise HarnessError(f"{model_path} holds a {type(model).__name__}, not a model")
        self.model = model.eval() if hasattr(model, "eval") else model
        self.dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(self.precision)
        if self.dtype is not None:
            if not hasattr(self.model, "to"):
                raise HarnessError(f"--precision {self.precision}: {model_path} cannot be cast")
            self.model = self.model.to(self.dtype)

    def runtime(self) -> str:
        where = "cuda" if self.torch_device.type == "cuda" else "cpu"
        return f"pytorch {torch.__version__} ({self.kind}), device: {where}"

    def threads_in_use(self):
        return torch.get_num_threads()

    def _named(self, result) -> Dict[str, object]:
        if isinstance(result, (tuple, list)) and len(result) == 1 and isinstance(result[0], dict):
            result = result[0]  # torchvision detection models: one dict per image (batch 1)
        if isinstance(result, dict):
            named = {}
            for key, value in result.items():
                named[key] = value
                named.setdefault(bare(key), value)
            return named
        if isinstance(result, (tuple, list)):
            return dict(zip(self.outputs, result))
        return {self.outputs[0] if self.outputs else "output": result}

    def infer(self, inputs) -> List[np.ndarray]:
        tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in inputs]
        if self.dtype is not None:
            tensors = [t.to(self.dtype) if t.is_floating_point() else t for t in tensors]
        if self.torch_device.type != "cpu":
            tensors = [t.to(self.torch_device, non_blocking=True) for t in tensors]
        with torch.inference_mode():
            named = self._named(self.model(*tensors))
        out = []
        for name in self.wanted_outputs:
            value = named.get(name, named.get(bare(name)))
            if value is None:
                raise HarnessError(f"the model returned no output {name!r} "
                                   f"(it returned {', '.join(map(str, named))})")
            value = value.detach()
            if value.is_floating_point() and value.dtype != torch.float32:
                value = value.float()
            out.append(value.cpu().numpy())
        return out
