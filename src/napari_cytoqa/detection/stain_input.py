"""Stained tissue as the detectors' input: the hematoxylin channel (``detect_cells(stain=...)``).

The shipped detectors learned cells on glass (smears) and fluorescence nuclei. A field covered
by stained tissue — H&E sections — is neither: the cytoplasm and stroma around the nuclei are
stained too, and the detectors found almost nothing right there (AP@0.5 ≤ 0.011 on a real H&E
tumour nest, docs/detection.md). Colour deconvolution (Ruifrok & Johnston 2001,
``skimage.color.rgb2hed``) separates the nuclear stain: its hematoxylin density, with the
image's own background level (a percentile) taken off and smoothed over about a sixth of a cell
diameter (chromatin texture otherwise splits nuclei), is a gray image of bright nuclei on a dark
ground, the fluorescence the detectors know. The focus model that routes tiles still judges the
tiles as they are. Opt-in: rule H, which would have made ``"auto"`` the default, failed on a
blind stromal field. Percentiles, threshold and figures: docs/detection.md, *Stained tissue
through its hematoxylin channel*. ``cytoqa-unet-tissue`` (a U-Net trained on synthetic sections
through this channel, :mod:`.tissue_task`) is opt-in: ``model=`` / ``sharp_model=`` /
``blurry_model=`` with ``stain="hematoxylin"``; rule U, which would have made it the channel's U-Net,
failed on a blind set of H&E patches (docs/detection.md, *A U-Net for stained tissue*).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

#: ``detect_cells(stain=...)``: ``"auto"`` (the hematoxylin channel where :func:`is_tissue` says
#: stained tissue), ``"hematoxylin"`` (always; RGB only) or ``"none"`` (the image as it is; the
#: default: rule H, which would have made ``"auto"`` the default, failed on a blind stromal field)
STAIN_CHOICES = ("auto", "hematoxylin", "none")
#: stained tissue covers the field: at least this share of the pixels absorbs (optical density
#: ≥ ``stain.colour.OD_THRESHOLD`` against the image's own lamp colour). Held-out synthetic smears
#: (recipes 1-4, blur levels 0-10) cover 0.43-0.62; the real H&E tumour fields 0.91-0.94
#: (scikit-image's ``skin``, 0.75, was also looked at when this was set: see docs/detection.md).
TISSUE_FILL = 0.7
#: the hematoxylin density below this percentile of the image is background (0): eosin bleeds
#: into the hematoxylin channel of standard deconvolution, so cytoplasm is not zero there
BACKGROUND_PERCENTILE = 60.0
#: the density at this percentile maps to 1
TOP_PERCENTILE = 99.9
#: smoothing of the channel, in cell diameters (sigma)
SMOOTH_DIAMETERS = 1.0 / 6.0


def tissue_fill(sample, fs: float) -> float:
    """Share of an RGB sample's known pixels that absorb light: optical density against its
    lamp colour at least ``stain.colour.OD_THRESHOLD`` (:func:`~napari_cytoqa.stain.colour.absorbing_pixels`)."""
    from ..stain.colour import absorbing_pixels

    _, absorbs = absorbing_pixels(sample, fs)
    return float(absorbs.mean()) if len(absorbs) else 0.0


def is_tissue(sample, fs: float) -> bool:
    """Whether an RGB image is a stained tissue section: its colours say stained brightfield
    (:func:`~napari_cytoqa.quality.measures.stained_brightfield`) and stain covers at least
    :data:`TISSUE_FILL` of it (a smear leaves most of the glass clear). Gray is never tissue here."""
    from ..quality.measures import stained_brightfield

    return stained_brightfield(sample, fs) and tissue_fill(sample, fs) >= TISSUE_FILL


def hematoxylin_density(rgb, fs: float) -> np.ndarray:
    """``skimage.color.rgb2hed``'s hematoxylin channel of an RGB(A) array (NaN stays NaN)."""
    from skimage.color import rgb2hed

    from .._dtypes import known_colour
    from ..stain.colour import to_unit

    h = rgb2hed(to_unit(rgb, fs), channel_axis=-1)[..., 0]  # unknown pixels as the lamp's white, then NaN
    h[~known_colour(rgb)] = np.nan
    return h


class HematoxylinInput:
    """Tile → float32 gray hematoxylin image in [0, 1] (NaN where the tile is transparent), scaled
    by levels fitted once on an image-wide sample, so every tile is scaled alike."""

    def __init__(self, sample, fs: float, *, sigma: float):
        h = hematoxylin_density(sample, fs)
        h = h[np.isfinite(h)]
        if not h.size:
            raise ValueError("the image has no opaque pixels to measure its hematoxylin on")
        self.fs, self.sigma = float(fs), float(sigma)
        self.low, self.high = (float(v) for v in np.percentile(h, [BACKGROUND_PERCENTILE, TOP_PERCENTILE]))
        if self.high <= self.low:
            self.high = self.low + 1e-6

    def __call__(self, tile, sigma: float | None = None) -> np.ndarray:
        h = hematoxylin_density(tile, self.fs)
        bad = ~np.isfinite(h)
        h = np.clip((np.where(bad, self.low, h) - self.low) / (self.high - self.low), 0.0, 1.0)
        sigma = self.sigma if sigma is None else sigma
        if sigma > 0:
            h = ndi.gaussian_filter(h, sigma)
        h[bad] = np.nan
        return h.astype(np.float32)


def stain_input(stain: str, sample, dtype, diameter: float) -> HematoxylinInput | None:
    """The hematoxylin input for ``stain`` (see :data:`STAIN_CHOICES`) fitted on ``sample`` (a
    strided, image-wide RGB sample of the image, of type ``dtype``), or None: the image as it is.
    ``diameter``: the cell diameter in the image's pixels (sets the smoothing)."""
    from ..quality.measures import full_scale

    if stain not in STAIN_CHOICES:
        raise ValueError(f"stain must be one of {STAIN_CHOICES}, got {stain!r}")
    if stain == "none":
        return None
    a = np.asarray(sample)
    rgb = a.ndim == 3 and a.shape[-1] >= 3
    if stain == "hematoxylin" and not rgb:
        raise ValueError(f"stain='hematoxylin' needs an RGB image (colour deconvolution); got shape {a.shape}")
    fs = full_scale(dtype, a)
    if stain == "auto" and not is_tissue(a, fs):
        return None
    return HematoxylinInput(a, fs, sigma=SMOOTH_DIAMETERS * float(diameter))
