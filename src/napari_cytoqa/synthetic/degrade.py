"""Degradations of known magnitude: defocus, noise, JPEG, illumination, dark ring, stain shift,
over-exposure.

Every function takes an image (``(H, W)`` or ``(H, W, C)``, any integer dtype or
float) and returns a new array of the same shape and dtype; inputs are never
modified. Seeds make every random degradation reproducible.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .._dtypes import cast_to, integer_full_scale
from .psf import (DEFAULT_OPTICS, RGB_WAVELENGTHS_UM, convolve_same, defocus_psf,
                  level_to_defocus_um)


def _to_float(image: np.ndarray) -> tuple[np.ndarray, float]:
    image = np.asarray(image)
    if np.issubdtype(image.dtype, np.integer):
        scale = float(np.iinfo(image.dtype).max)
    else:
        scale = 1.0
    return image.astype(np.float64) / scale, scale


def _restore(values: np.ndarray, dtype: np.dtype, scale: float) -> np.ndarray:
    return cast_to(values * scale if np.issubdtype(dtype, np.integer) else values, dtype)


def defocus(image: np.ndarray, level: float, *, na: float = DEFAULT_OPTICS["na"],
            pixel_size_um: float = DEFAULT_OPTICS["pixel_size_um"],
            dz_um: float = 2.0, wavelengths_um=None, in_focus_psf: bool = False) -> np.ndarray:
    """Blur ``image`` to blur ``level`` (0–10) through the physical defocus PSF.

    RGB images are blurred per channel with its own wavelength; gray images
    with 0.55 µm. Level 0 returns an unchanged copy of a recorded image, or,
    with ``in_focus_psf=True`` (ideal rendered scenes), its in-focus
    diffraction-limited image.
    """
    image = np.asarray(image)
    if level == 0 and not in_focus_psf:
        return image.copy()
    dz = level_to_defocus_um(level, dz_um=dz_um)
    values, scale = _to_float(image)
    planes = values[..., None] if values.ndim == 2 else values
    if wavelengths_um is None:
        wavelengths_um = RGB_WAVELENGTHS_UM if planes.shape[-1] == 3 else (0.55,) * planes.shape[-1]
    out = np.empty_like(planes)
    for c in range(planes.shape[-1]):
        wl = wavelengths_um[min(c, len(wavelengths_um) - 1)]
        kernel = defocus_psf(float(dz), wavelength_um=wl, na=na, pixel_size_um=pixel_size_um)
        out[..., c] = convolve_same(planes[..., c], kernel)
    out = out[..., 0] if values.ndim == 2 else out
    return _restore(out, image.dtype, scale)


RELATIVE_TO = ("full_scale", "range")


def _span(values: np.ndarray) -> tuple[float, float]:
    """The 0.5–99.5 percentile span of finite ``values`` (what the checks scale images by)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [0.5, 99.5])
    return float(lo), float(max(hi, lo + 1e-12))


def add_noise(image: np.ndarray, sigma: float = 0.02, *, poisson_peak: float | None = None,
              seed=None, relative_to: str = "full_scale") -> np.ndarray:
    """Gaussian noise of ``sigma``, optionally shot noise. ``relative_to="full_scale"``: ``sigma``
    is a fraction of the dtype's full scale; ``"range"``: of the image's own 0.5–99.5 percentile
    span — what a camera image of any bit depth, offset and exposure needs (a 16-bit image with a
    33,000 offset and 1,300 counts of signal gets 1,300 counts of noise from ``sigma`` 0.02 of
    full scale, 26 from 0.02 of its range)."""
    if relative_to not in RELATIVE_TO:
        raise ValueError(f"relative_to must be one of {RELATIVE_TO}, got {relative_to!r}")
    rng = np.random.default_rng(seed)
    values, scale = _to_float(image)
    if poisson_peak:
        values = rng.poisson(np.clip(values, 0, None) * poisson_peak) / poisson_peak
    if relative_to == "range":
        lo, hi = _span(values)
        sigma = sigma * (hi - lo)
    values = values + rng.normal(0.0, sigma, values.shape)
    return _restore(np.clip(values, 0, None if scale == 1.0 else 1.0), image.dtype, scale)


def jpeg(image: np.ndarray, quality: int = 20, *, relative_to: str = "full_scale") -> np.ndarray:
    """Round-trip through JPEG at ``quality`` (1–95); 8-bit gray or RGB. ``relative_to="full_scale"``
    maps the dtype's full scale to 8 bits; ``"range"`` the image's own minimum–maximum, as a
    viewer's export of a 16-bit image would (full scale leaves an image that spans 2 % of it a
    handful of grey levels)."""
    if relative_to not in RELATIVE_TO:
        raise ValueError(f"relative_to must be one of {RELATIVE_TO}, got {relative_to!r}")
    image = np.asarray(image)
    values, scale = _to_float(image)
    lo, hi = 0.0, 1.0
    if relative_to == "range":
        finite = values[np.isfinite(values)]
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            hi = max(hi, lo + 1e-12)
    as8 = cast_to((values - lo) / (hi - lo) * 255, np.uint8)
    buf = io.BytesIO()
    Image.fromarray(as8).save(buf, format="JPEG", quality=int(quality))
    decoded = np.asarray(Image.open(io.BytesIO(buf.getvalue()))).astype(np.float64) / 255
    return _restore(lo + decoded.reshape(image.shape) * (hi - lo), image.dtype, scale)


def uneven_illumination(image: np.ndarray, strength: float = 0.4, *, seed=None,
                        relative_to: str = "full_scale") -> np.ndarray:
    """Multiply by a smooth illumination field that falls by ``strength`` at its darkest.
    ``relative_to="range"``: the field scales the signal above the image's dark level (its 0.5th
    percentile, e.g. a camera's offset) rather than the raw values, which on a 16-bit image with a
    33,000 offset would move the background by many times the whole signal."""
    if relative_to not in RELATIVE_TO:
        raise ValueError(f"relative_to must be one of {RELATIVE_TO}, got {relative_to!r}")
    rng = np.random.default_rng(seed)
    values, scale = _to_float(image)
    dark = _span(values)[0] if relative_to == "range" else 0.0
    h, w = values.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    cy, cx = rng.uniform(0, h / max(h, w)), rng.uniform(0, w / max(h, w))
    d2 = (yy - cy) ** 2 + (xx - cx) ** 2
    field = 1.0 - strength * d2 / d2.max()
    if values.ndim == 3:
        field = field[..., None]
    return _restore(dark + (values - dark) * field, image.dtype, scale)


def dark_ring(image: np.ndarray, radius: float = 0.45, *, softness: float = 0.03,
              seed=None) -> np.ndarray:
    """Seed 000's dark-edge artifact: a black surround outside a soft circle.

    ``radius`` is the clear field's radius as a fraction of the shorter side,
    around a slightly jittered centre; ``softness`` is the edge width.
    """
    rng = np.random.default_rng(seed)
    values, scale = _to_float(image)
    h, w = values.shape[:2]
    side = min(h, w)
    cy = h / 2 + rng.normal(0, 0.03) * side
    cx = w / 2 + rng.normal(0, 0.03) * side
    yy, xx = np.mgrid[0:h, 0:w]
    dist = np.hypot(yy - cy, xx - cx) / side
    mask = np.clip((radius - dist) / max(softness, 1e-6) + 0.5, 0, 1)
    mask = mask * (1.0 - 0.04) + 0.04 * (dist < radius)  # a faint residual glow
    if values.ndim == 3:
        mask = mask[..., None]
    return _restore(values * mask, image.dtype, scale)


def stain_shift(image: np.ndarray, strength: float = 0.3, *, seed=None) -> np.ndarray:
    """Shift the stain colours of an RGB brightfield image in optical-density space.

    The optical densities are mixed by a random matrix ``I + strength * N(0, 1)``
    (rows renormalised), which changes hue and intensity of each stain the way a
    different lab's protocol does while keeping every structure in place.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError("stain_shift needs an RGB image of shape (H, W, 3)")
    rng = np.random.default_rng(seed)
    values, scale = _to_float(image)
    od = -np.log(np.clip(values, 1 / 255, 1.0))
    mix = np.eye(3) + strength * rng.normal(0, 1, (3, 3))
    mix = np.abs(mix) / np.abs(mix).sum(axis=1, keepdims=True) * rng.uniform(0.8, 1.25, (3, 1))
    shifted = np.exp(-(od @ mix))
    return _restore(shifted, image.dtype, scale)


def over_expose(image: np.ndarray, clip: float, *, full_scale: float | None = None) -> np.ndarray:
    """Camera over-exposure: the gain that takes intensity ``clip`` to full scale, everything
    brighter saturated there. ``full_scale`` defaults to 1 for floats and, for integers, to that
    of the bit depth the data use (:func:`~napari_cytoqa._dtypes.integer_full_scale`: a 12-bit
    image stays 12-bit); pass it to expose a defocus series alike. In brightfield ``clip`` =
    full scale / gain whites out the background and pale cells; in fluorescence a ``clip``
    inside the nuclei's range flattens their tops."""
    image = np.asarray(image)
    if full_scale is None:
        full_scale = integer_full_scale(image.dtype, image.max()) if image.dtype.kind in "ui" else 1.0
    if not 0 < clip <= full_scale:
        raise ValueError(f"clip must lie in (0, {full_scale:g}], got {clip!r}")
    return cast_to(np.minimum(image.astype(np.float64), clip) * (full_scale / clip), image.dtype)
