"""CycleGAN networks (Zhu et al. 2017, as used by seed 004) in plain torch.

Generator: ResNet generator (7×7 stem, two stride-2 downsamplings, ``n_blocks`` residual
blocks, two upsamplings, 7×7 head, tanh). Seed 004 used 64 filters and 9 blocks; the
shipped default is smaller so that it trains on a CPU. Two deliberate changes from the
reference implementation, both for tiled inference on whole slides:

- upsampling is nearest-neighbour + 3×3 convolution instead of transposed convolution
  (no checkerboard artefacts);
- normalisation is batch norm (Zhu's ``--norm batch`` option) instead of instance norm: in
  eval mode the generator is then a fixed, translation-equivariant function of the pixels,
  so neighbouring tiles agree and blended overlaps show no seams. Instance norm would
  re-normalise every tile by its own content (a tile of background would be stretched).

Discriminator: the 70 × 70 PatchGAN (``n_layers=3``) with instance norm (training only).
"""
from __future__ import annotations

import torch
from torch import nn


class _ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3, bias=False), nn.BatchNorm2d(ch))

    def forward(self, x):
        return x + self.body(x)


def _cbr(cin, cout, k, stride=1, pad=0, reflect=False):
    layers = [nn.ReflectionPad2d(pad)] if reflect and pad else []
    layers += [nn.Conv2d(cin, cout, k, stride, 0 if reflect else pad, bias=False), nn.BatchNorm2d(cout),
               nn.ReLU(True)]
    return layers


class ResnetGenerator(nn.Module):
    """RGB in [-1, 1] → RGB in [-1, 1]; input sides should be multiples of 4."""

    def __init__(self, ngf: int = 64, n_blocks: int = 9, channels: int = 3):
        super().__init__()
        layers = _cbr(channels, ngf, 7, pad=3, reflect=True)
        layers += _cbr(ngf, ngf * 2, 3, 2, 1) + _cbr(ngf * 2, ngf * 4, 3, 2, 1)
        layers += [_ResBlock(ngf * 4) for _ in range(n_blocks)]
        for cin, cout in ((ngf * 4, ngf * 2), (ngf * 2, ngf)):
            layers += [nn.Upsample(scale_factor=2, mode="nearest")] + _cbr(cin, cout, 3, pad=1, reflect=True)
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: a grid of real/fake logits, each seeing a 70 × 70 patch (``n_layers=3``)."""

    def __init__(self, ndf: int = 64, n_layers: int = 3, channels: int = 3):
        super().__init__()
        layers = [nn.Conv2d(channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=False),
                       nn.InstanceNorm2d(ndf * mult, affine=True), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """Zhu's initialisation: N(0, 0.02) for convolutions, N(1, 0.02) for norm scales."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


__all__ = ["PatchDiscriminator", "ResnetGenerator", "init_weights", "torch"]
