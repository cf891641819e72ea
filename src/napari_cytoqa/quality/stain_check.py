"""H&E sections by their colour: a second opinion beside the learned "cell image or not".

The learned validity head was trained on synthetic tissue and judged several real H&E sections
"not a cell image" (scikit-image's ``skin``, the CMU-1 skin region, a stromal field; see
docs/models.md). Colour says what the network misses: hematoxylin and eosin absorb light, and
the pixels they stain are purple (hematoxylin, hue 240–300°) to pink-magenta (eosin, 300–360°),
hues that photographs rarely fill. :func:`he_shares` measures, on the slide's statistics sample,
how much of the image absorbs (optical density against its own lamp colour) and which share of
the absorbing pixels carries those hues; :func:`is_he_section` applies the thresholds below.
:func:`~napari_cytoqa.assess_quality` (``stain_check=True``) counts such a slide a cell image
when the network is merely unsure (``p_valid`` at least :data:`MIN_P_VALID`); flat designs in
those hues (checkers, gradients the generator makes) are what the floor keeps out. IHC (brown
DAB) is not covered: brown is the colour of skin, wood and fur in photographs. Thresholds and
their grounds: docs/models.md, *H&E sections by colour*.
"""
from __future__ import annotations

import numpy as np

#: at least this share of the sample absorbs (stain, not glass)
MIN_FILL = 0.25
#: at least this share of the absorbing pixels has a stain hue (240–360°) ...
MIN_HE_SHARE = 0.8
#: ... with at least this share in each half (hematoxylin 240–300°, eosin 300–360°): two stains
MIN_EACH_STAIN = 0.05
#: a pixel has a hue only if it is this saturated (HSV) and this bright (HSV value; dark noise
#: has random hues)
MIN_SATURATION = 0.1
MIN_VALUE = 0.2
#: hue ranges in degrees
HEMATOXYLIN_HUES = (240.0, 300.0)
EOSIN_HUES = (300.0, 360.0)
#: the network's aggregated ``p_valid`` must reach this for the colour to decide
MIN_P_VALID = 0.05
MIN_PIXELS = 100


def he_shares(sample, fs: float) -> dict:
    """Colour shares of an RGB(A) sample (NaN or alpha-0 pixels unknown): ``fill`` (share that
    absorbs), ``hematoxylin`` and ``eosin`` (shares of the absorbing pixels with those hues). 2-D
    (gray) data returns zeros; gray stored as RGB has no hue, so only its ``fill`` can be non-zero."""
    from skimage.color import rgb2hsv

    from ..stain.colour import absorbing_pixels

    zeros = {"fill": 0.0, "hematoxylin": 0.0, "eosin": 0.0}
    a = np.asarray(sample)
    if a.ndim < 2 or a.shape[-1] not in (3, 4) or fs <= 0:
        return zeros
    rgb, absorbs = absorbing_pixels(a, fs)
    if len(rgb) < MIN_PIXELS:
        return zeros
    if absorbs.sum() < MIN_PIXELS:
        return zeros | {"fill": float(absorbs.mean())}
    hue, sat, val = rgb2hsv(rgb[absorbs], channel_axis=-1).T
    hue = hue * 360.0
    coloured = (sat >= MIN_SATURATION) & (val >= MIN_VALUE)

    def share(lo, hi):
        return float((coloured & (hue >= lo) & (hue < hi)).mean())

    return {"fill": float(absorbs.mean()), "hematoxylin": share(*HEMATOXYLIN_HUES), "eosin": share(*EOSIN_HUES)}


def is_he_section(shares: dict) -> bool:
    """Whether :func:`he_shares` describe an H&E section (the thresholds above)."""
    h, e = shares["hematoxylin"], shares["eosin"]
    return bool(shares["fill"] >= MIN_FILL and h + e >= MIN_HE_SHARE and min(h, e) >= MIN_EACH_STAIN)
