"""ResNet state_dicts (torchvision's layout, e.g. resnet50-19c8e357.pth) -> a module fed as the harness
feeds resnet50.

The harness preprocesses ImageNet as the MLPerf reference does for ONNX/TF (0..255, minus the means
123.68/116.78/103.94, NCHW); torchvision's weights expect (x/255 - mean)/std with its own mean/std. The
wrapper turns one into the other (a per-channel affine map), then returns the reference model's outputs:
``ArgMax:0`` in the 1001-class convention (class + 1, 0 = background, as resnet50_v1.onnx; the
harness subtracts the 1) and ``softmax_tensor:0`` [N, 1001] with a zero background column.
"""

from __future__ import annotations

import re
from typing import Dict, List, Mapping, Tuple

import torch
from torch import nn

from mlperf_harness.weights.resnet_arch import BasicBlock, Bottleneck, ResNet

MLPERF_MEAN = (123.68, 116.78, 103.94)  # what the harness subtracted
TORCHVISION_MEAN = (0.485, 0.456, 0.406)  # torchvision's Normalize, on 0..1
TORCHVISION_STD = (0.229, 0.224, 0.225)


def config(state_dict: Mapping) -> Dict:
    """ResNet's constructor arguments, read from the keys and shapes."""
    bottleneck = "layer1.0.conv3.weight" in state_dict
    layers: List[int] = []
    for i in range(1, 5):
        blocks = {int(m.group(1)) for k in state_dict if (m := re.match(rf"layer{i}\.(\d+)\.", k))}
        if not blocks or blocks != set(range(len(blocks))):
            raise ValueError(f"ResNet state_dict: layer{i} has no blocks 0..n-1")
        layers.append(len(blocks))
    width = int(state_dict["layer1.0.conv1.weight"].shape[0])
    groups = 1
    if bottleneck:
        groups = width // int(state_dict["layer1.0.conv2.weight"].shape[1])
    return {"block": "Bottleneck" if bottleneck else "BasicBlock", "layers": layers,
            "num_classes": int(state_dict["fc.weight"].shape[0]), "groups": groups,
            "width_per_group": width // groups if bottleneck else 64}


def build(cfg: Dict) -> ResNet:
    block = Bottleneck if cfg["block"] == "Bottleneck" else BasicBlock
    return ResNet(block, cfg["layers"], num_classes=cfg["num_classes"], groups=cfg["groups"],
                  width_per_group=cfg["width_per_group"])


class ImagenetClassifier(nn.Module):
    """A torchvision classifier behind the harness's resnet50 contract (see the module's docstring)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        mean = torch.tensor(MLPERF_MEAN) - 255.0 * torch.tensor(TORCHVISION_MEAN)
        scale = 1.0 / (255.0 * torch.tensor(TORCHVISION_STD))
        self.register_buffer("shift", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        x = (images + self.shift.to(images.dtype)) * self.scale.to(images.dtype)
        logits = self.net(x)
        probs = torch.softmax(logits.float(), 1)
        background = torch.zeros(probs.shape[0], 1, dtype=probs.dtype, device=probs.device)
        return {"ArgMax:0": torch.argmax(logits, 1) + 1,
                "softmax_tensor:0": torch.cat([background, probs], 1)}


def _first_mismatch(exc: Exception) -> str:
    lines = [l.strip() for l in str(exc).splitlines() if l.strip()]
    return next((l for l in lines if l.startswith("size mismatch")), lines[-1] if lines else type(exc).__name__)


def load(state_dict: Mapping) -> Tuple[nn.Module, str]:
    cfg = config(state_dict)
    net = build(cfg)
    try:
        result = net.load_state_dict(state_dict, strict=False)
    except RuntimeError as exc:  # shapes that do not fit: torch's message is one line per tensor
        raise ValueError(f"ResNet state_dict does not fit {cfg['block']} {cfg['layers']}: "
                         f"{_first_mismatch(exc)}") from None
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ValueError(f"ResNet state_dict does not fit {cfg['block']} {cfg['layers']}: "
                         f"missing {', '.join(missing[:3]) or 'none'}; "
                         f"unexpected {', '.join(result.unexpected_keys[:3]) or 'none'}")
    size = "resnet50" if cfg["block"] == "Bottleneck" and cfg["layers"] == [3, 4, 6, 3] \
        and cfg["width_per_group"] == 64 and cfg["groups"] == 1 else \
        f"width {cfg['width_per_group']}x{cfg['groups']}"
    describe = f"torchvision ResNet({cfg['block']}, {cfg['layers']}, {size}, {cfg['num_classes']} classes)"
    return ImagenetClassifier(net).eval(), describe
