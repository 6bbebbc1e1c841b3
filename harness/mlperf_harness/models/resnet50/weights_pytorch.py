"""ResNet state_dicts (torchvision's layout, e.g. resnet50-19c8e357.pth) -> a module fed as the harness
feeds resnet50.

The harness preprocesses ImageNet as the MLPerf reference does for ONNX/TF (0..255, minus the means
123.68/116.78/103.94, NCHW); torchvision's weights expect (x/255 - mean)/std with its own mean/std. The
wrapper turns one into the other (a per-channel affine map), then returns the reference model's outputs:
``ArgMax:0`` in the 1001-class convention (class + 1, 0 = background, as resnet50_v1.onnx; the
harness subtracts the 1) and ``softmax_tensor:0`` [N, 1001] with a zero background column.

The architecture is torchvision's ResNet definition (torchvision/models/resnet.py, 0.28), carried here
instead of importing torchvision: PyPI's torchvision is the CUDA build and does not load next to
PyTorch's CPU build (its ops library links libtorch_cuda), and the CPU build sits on PyTorch's own index.
The same module names and shapes, so the same state_dict keys; the code is torchvision's (BSD 3-Clause,
Copyright (c) Soumith Chintala 2016), trimmed to what loading and running the weights needs (no
dilation, no custom norm layer, no init options).
"""

from __future__ import annotations

import re
from typing import Dict, List, Mapping, Optional, Tuple, Type, Union

import torch
from torch import Tensor, nn


# ---- torchvision's ResNet ----------------------------------------------------------------------

def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None,
                 groups: int = 1, base_width: int = 64) -> None:
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    # ResNet V1.5: the stride sits on the 3x3 convolution (conv2), as in torchvision.
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None,
                 groups: int = 1, base_width: int = 64) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, block: Type[Union[BasicBlock, Bottleneck]], layers: List[int], num_classes: int = 1000,
                 groups: int = 1, width_per_group: int = 64) -> None:
        super().__init__()
        self.inplanes = 64
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block: Type[Union[BasicBlock, Bottleneck]], planes: int, blocks: int,
                    stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def resnet50(num_classes: int = 1000) -> ResNet:
    """torchvision.models.resnet50(): Bottleneck, [3, 4, 6, 3]."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes)


# ---- the loader -------------------------------------------------------------------------------

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
