"""Pixel-value plumbing shared by the core, one way everywhere: computed values back into an
image's dtype, the bit depth integer data use, transparent RGBA pixels as missing data."""
from __future__ import annotations

import numpy as np


def cast_to(values, dtype) -> np.ndarray:
    """``values`` as ``dtype``: integers rounded to nearest (half to even), NaN → 0 and clipped
    to the dtype's range (no wrap-around); booleans are ``values >= 0.5``; floats are cast."""
    dtype = np.dtype(dtype)
    values = np.asarray(values)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            values = np.nan_to_num(values, nan=0.0, posinf=info.max, neginf=info.min)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    if dtype.kind == "b":
        return values >= 0.5
    return values.astype(dtype)


def integer_full_scale(dtype, peak=None) -> float:
    """Full scale of integer pixel data. 8-bit types: their maximum. Wider types hold data of
    fewer bits more often than not (a 12-bit camera writes 16-bit TIFFs, numpy arrays default to
    int64): the full scale is then that of the bit depth the data use, ``2**b - 1`` for the
    smallest even ``b`` >= 8 that holds ``peak`` (the data maximum), capped at the dtype's
    maximum; without a ``peak``, the dtype's maximum."""
    info = np.iinfo(dtype)
    if peak is None or info.bits <= 8 or not np.isfinite(peak):
        return float(info.max)
    bits = max(8, int(np.ceil(np.log2(max(float(peak), 0.0) + 1.0))))
    bits += bits % 2
    return float(min(2.0 ** bits - 1, info.max))


def colour_peak(sample) -> float | None:
    """The largest finite value of an image sample's gray or colour channels (alpha ignored);
    None when it has none."""
    a = np.asarray(sample)
    if a.ndim == 3 and a.shape[-1] == 4:
        a = a[..., :3]
    if a.size == 0:
        return None
    if a.dtype.kind == "f":
        a = a[np.isfinite(a)]
        if a.size == 0:
            return None
    return float(a.max())


def transparent_mask(image) -> np.ndarray | None:
    """Where an RGBA image is fully transparent (alpha 0: outside a specimen or an exported
    annotation), as a ``(Y, X)`` mask; None for other images and where no pixel is."""
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[-1] != 4:
        return None
    clear = a[..., 3] == 0
    return clear if clear.any() else None


def known_colour(image) -> np.ndarray:
    """Where an RGB(A) array's colour is known, as a ``(Y, X)`` (or ``(N,)``) mask: finite
    (not NaN from :func:`transparent_as_nan`) and not fully transparent (alpha 0)."""
    a = np.asarray(image)
    known = np.isfinite(a[..., :3]).all(axis=-1)
    if a.shape[-1] == 4:
        known &= a[..., 3] != 0
    return known


def transparent_as_nan(image) -> np.ndarray:
    """An RGBA image's fully transparent pixels (:func:`transparent_mask`) as missing data —
    float32 RGB with NaN there, which the quality checks and the detectors treat as background
    instead of as black. Any other image is returned as it is."""
    a = np.asarray(image)
    clear = transparent_mask(a)
    if clear is None:
        return a
    rgb = a[..., :3].astype(np.float32)
    rgb[clear] = np.nan
    return rgb
