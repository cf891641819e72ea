"""Colour plumbing shared by the stain methods: input checks, optical density, CIELAB, ΔE2000."""
from __future__ import annotations

import numpy as np

from .._dtypes import colour_peak, integer_full_scale, transparent_mask

#: pixels whose optical density is below this in every channel are background (Macenko's β)
OD_THRESHOLD = 0.15
#: at most this many pixels are read to fit a source image's stain statistics
FIT_PIXELS = 1_000_000


class StainInputError(ValueError):
    """The image cannot be stain-transferred (not brightfield RGB, empty, unsupported dtype)."""


def check_rgb(image) -> None:
    """Raise :class:`StainInputError` unless ``image`` is ``(Y, X, 3|4)`` with a real dtype."""
    shape, dtype = tuple(image.shape), np.dtype(image.dtype)
    if dtype.kind not in "uif":
        raise StainInputError(f"unsupported pixel type {dtype}; stain transfer needs integer or float RGB")
    if len(shape) != 3 or shape[-1] not in (3, 4):
        hint = " (a gray or fluorescence image has no stain colours)" if len(shape) == 2 else ""
        raise StainInputError(f"stain transfer needs a brightfield RGB(A) image of shape (Y, X, 3|4), "
                              f"got {shape}{hint}")
    if min(shape[:2]) < 1:
        raise StainInputError(f"the image is empty: shape {shape}")


def scale_of(dtype, sample=None) -> float:
    """Full-scale value: for integers the maximum of the bit depth the sample's data use (8-bit
    types: 255; 12-bit data in a 16-bit file: 4095; see :func:`integer_full_scale`); 1 for
    floats in [0, 1]; else 255 (floats holding 8-bit values) or the data maximum."""
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        return integer_full_scale(dtype, None if sample is None else colour_peak(sample))
    if sample is None or not np.size(sample):
        return 1.0
    peak = float(np.nanmax(sample))
    return 1.0 if peak <= 1.0 else (255.0 if peak <= 255.0 else peak)


def to_unit(tile: np.ndarray, scale: float) -> np.ndarray:
    """RGB float64 in [0, 1] (alpha dropped; NaN and fully transparent pixels → white, i.e. background)."""
    tile = np.asarray(tile)
    rgb = tile[..., :3].astype(np.float64) / scale
    clear = transparent_mask(tile)
    if clear is not None:
        rgb[clear] = 1.0
    if not np.isfinite(rgb).all():
        rgb = np.where(np.isfinite(rgb), rgb, 1.0)
    return np.clip(rgb, 0.0, 1.0)


def from_unit(rgb: np.ndarray, like: np.ndarray, scale: float) -> np.ndarray:
    """Back to ``like``'s dtype and channel count (alpha copied from ``like``); a new array."""
    like = np.asarray(like)
    values = np.clip(rgb, 0.0, 1.0) * scale
    if np.dtype(like.dtype).kind in "ui":
        values = np.rint(values)
    out = np.empty(like.shape, dtype=like.dtype)
    out[..., :3] = values
    if like.shape[-1] == 4:
        out[..., 3] = like[..., 3]
    return out


def optical_density(rgb: np.ndarray, background) -> np.ndarray:
    """``-log(I / I0)`` per channel with ``I0`` the background (lamp) colour; ``rgb`` in [0, 1]."""
    bg = np.asarray(background, dtype=np.float64)
    return np.maximum(-np.log(np.clip(rgb, 1.0 / 255, None) / bg), 0.0)


def absorbing_pixels(sample, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``(N, 3)`` unit RGB of an RGB(A) sample's pixels whose colour is known
    (:func:`~napari_cytoqa._dtypes.known_colour`) and, per row, whether it absorbs: optical density
    against the sample's own lamp colour (:func:`estimate_background`) at least
    :data:`OD_THRESHOLD`. Empty arrays where no colour is known."""
    from .._dtypes import known_colour

    a = np.asarray(sample)
    rgb = to_unit(a, scale).reshape(-1, 3)[known_colour(a).reshape(-1)]
    if not len(rgb):
        return rgb, np.zeros(0, bool)
    od = optical_density(rgb, estimate_background(rgb))
    return rgb, np.linalg.norm(od, axis=1) >= OD_THRESHOLD


def estimate_background(rgb: np.ndarray) -> np.ndarray:
    """The lamp colour: a high percentile of the brightest pixels, per channel (never below 0.5)."""
    flat = rgb.reshape(-1, 3)
    lum = flat.mean(axis=1)
    bright = flat[lum >= np.percentile(lum, 95)] if flat.shape[0] >= 20 else flat
    return np.clip(np.percentile(bright, 50, axis=0), 0.5, 1.0)


def fit_sample(image, max_pixels: int = FIT_PIXELS) -> np.ndarray:
    """An evenly strided sample of ``image`` (numpy, dask or zarr) of at most ``max_pixels`` pixels."""
    h, w = image.shape[:2]
    step = max(1, int(np.ceil(np.sqrt(h * w / max_pixels))))
    return np.asarray(image[::step, ::step])


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(rgb)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    from skimage.color import lab2rgb

    return lab2rgb(lab)


def delta_e2000(a: np.ndarray, b: np.ndarray, scale_a: float | None = None, scale_b: float | None = None):
    """Per-pixel CIEDE2000 colour difference between two RGB images (any dtypes)."""
    from skimage.color import deltaE_ciede2000

    a, b = np.asarray(a), np.asarray(b)
    la = rgb_to_lab(to_unit(a, scale_a or scale_of(a.dtype, a)))
    lb = rgb_to_lab(to_unit(b, scale_b or scale_of(b.dtype, b)))
    return deltaE_ciede2000(la, lb)
