"""Network architectures by name (builders take JSON-able keyword arguments)."""
from __future__ import annotations

import torch
from torch import nn

N_BLUR, N_GRADE = 11, 4


def _conv(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class _Heads(nn.Module):
    """One forward pass answers every check: blur level (11), validity (1 logit), grade (4)."""

    def __init__(self, features: int):
        super().__init__()
        self.blur = nn.Linear(features, N_BLUR)
        self.valid = nn.Linear(features, 1)
        self.grade = nn.Linear(features, N_GRADE)

    def forward(self, f):
        return {"blur": self.blur(f), "valid": self.valid(f).squeeze(-1), "grade": self.grade(f)}


class QualityNet(nn.Module):
    """Compact CNN for native-resolution crops: a full-resolution first layer (fine detail
    decides focus), then stride-2 stages, global average pooling and three heads.

    ``extra[i]`` stride-1 convolutions follow stage ``i``'s stride-2 one (default one each);
    on the CPU every layer costs about the same, so each one dropped is ~1/9 of the time."""

    def __init__(self, widths=(8, 16, 32, 64, 128), in_channels: int = 3, extra=None):
        super().__init__()
        extra = (1,) * (len(widths) - 1) if extra is None else tuple(int(e) for e in extra)
        if len(extra) != len(widths) - 1 or min(extra, default=0) < 0:
            raise ValueError(f"extra needs one count >= 0 per stage ({len(widths) - 1}), got {extra}")
        layers = [_conv(in_channels, widths[0])]
        for cin, cout, n in zip(widths[:-1], widths[1:], extra):
            layers += [_conv(cin, cout, 2)] + [_conv(cout, cout) for _ in range(n)]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.heads = _Heads(widths[-1])

    def forward(self, x):
        return self.heads(self.features(x))


class ResNet18Quality(nn.Module):
    """Seed 000's ResNet18 (torchvision, no pretrained weights) with the same three heads."""

    def __init__(self):
        super().__init__()
        from .._triton import avoid_triton_in_gui

        avoid_triton_in_gui()  # torchvision.models reaches triton, which crashes beside napari's OpenGL
        from torchvision.models import resnet18

        self.backbone = resnet18(weights=None)
        self.backbone.fc = nn.Identity()
        self.heads = _Heads(512)

    def forward(self, x):
        return self.heads(self.backbone(x))


def _cyclegan_generator(**config):
    from ..stain.cyclegan import ResnetGenerator

    return ResnetGenerator(**config)


def _unet(**config):
    from ..detection.unet import UNet

    return UNet(**config)


def _yolo(**config):
    from ..detection.yolo import build_yolo

    return build_yolo(config.get("yaml"), nc=int(config.get("nc", 1)))


ARCHITECTURES = {"quality_net": QualityNet, "resnet18_quality": ResNet18Quality,
                 "cyclegan_generator": _cyclegan_generator, "unet": _unet, "yolo": _yolo}


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["ARCHITECTURES", "QualityNet", "ResNet18Quality", "count_parameters", "torch"]
