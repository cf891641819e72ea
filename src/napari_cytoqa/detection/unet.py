"""U-Net (Ronneberger et al. 2015) in plain torch, as seed 003 used it: the original layout
with 4× fewer channels (16…256, about 1.9 M parameters), batch norm, bilinear upsampling.

Two output maps instead of the seed's one: foreground logits and a "centre" map (each cell's
distance to its border, normalised to 1 at its centre). Instances are the watershed of the
centre map from its cores, so touching cells — which the seed's thresholded mask merged — are
separated where the network itself sees two centres, even when blur fills the gap between them.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def _double(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))


class UNet(nn.Module):
    """Input ``(B, 3, H, W)`` with H, W multiples of ``2 ** (len(widths) - 1)``; output
    ``(B, 2, H, W)`` logits: channel 0 foreground, channel 1 centre map."""

    def __init__(self, widths=(16, 32, 64, 128, 256), in_channels: int = 3, out_channels: int = 2):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        self.down = nn.ModuleList([_double(in_channels, widths[0])])
        self.down.extend(_double(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.up = nn.ModuleList(_double(b + a, a) for a, b in zip(widths[-2::-1], widths[:0:-1]))
        self.head = nn.Conv2d(widths[0], out_channels, 1)
        self.depth = len(widths) - 1

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, skips[-2::-1]):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([skip, x], 1))
        return self.head(x)


def centre_map(labels: np.ndarray) -> np.ndarray:
    """Per instance: distance to the instance border divided by its maximum (1 at the centre)."""
    from scipy import ndimage as ndi

    labels = np.asarray(labels)
    out = np.zeros(labels.shape, np.float32)
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        sl = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in sl)
        m = labels[sl] == i
        d = ndi.distance_transform_edt(m)
        if d.max() > 0:
            out[sl][m] = (d[m] / d.max()).astype(np.float32)
    return out


def instances_from_maps(fg_prob: np.ndarray, centre: np.ndarray, *, threshold: float = 0.5,
                        core: float = 0.5, min_size: int = 12, merge: bool = False) -> np.ndarray:
    """Instance labels from predicted foreground probability and centre map: cores (centre ≥
    ``core`` inside the foreground) seed a watershed of the centre map over the foreground.
    ``merge``: then join touching pieces of one cell (:func:`.instances.merge_fragments`, its
    border length and centre-map tests with their defaults)."""
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    from .instances import merge_fragments, remove_small

    fg = fg_prob >= threshold
    if not fg.any():
        return np.zeros(fg.shape, np.int32)
    markers, _ = ndi.label(fg & (centre >= core))
    labels = watershed(-centre, markers, mask=fg)
    rest, n_rest = ndi.label(fg & (labels == 0))  # foreground without a core: its own instance
    if n_rest:
        labels = np.where(rest > 0, rest + labels.max(), labels)
    labels = remove_small(labels, min_size)
    return merge_fragments(labels, centre=centre) if merge else labels
