"""Classical per-tile quality measures (no Qt, no torch).

All measures work on a luminance plane normalised by image-wide intensity
statistics (:class:`IntensityStats`), so that they compare across
brightfield (dark objects on a light background) and fluorescence (bright on
dark), across 8/16-bit and float data, and across stain intensity.

Focus is a ratio of band energies, which cancels contrast and stain
intensity: the variance of the Laplacian of a lightly smoothed tile, and the
gradient energy (Tenengrad) of the same, each divided by the variance of a
coarser band-pass (difference of Gaussians σ 2–6). Defocus removes the fine
band first, so both ratios fall monotonically with blur while staying put
when a tile's contrast or content density changes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .._dtypes import colour_peak, integer_full_scale

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
#: Pixels darker than this fraction of full scale count as "dark" (ring / underexposure).
DARK_LEVEL = 0.08
#: A pixel is foreground when it departs from the tile background by this share of the range.
CONTENT_DELTA = 0.12
#: Tiles with less foreground than this share are ``empty`` (background only).
MIN_CONTENT = 0.01
#: An RGB image whose darkest tenth of pixels have at least this median colour (max − min channel,
#: share of full scale) ...
STAIN_CHROMA = 0.12
#: ... whose colour does not rise with brightness (Spearman ρ of colour on luminance below this) ...
FLUORESCENCE_RHO = 0.5
#: ... and whose darkest tenth is this much more saturated (HSV saturation, medians) than its
#: brightest tenth is stained brightfield, whatever its luminance histogram says
#: (:func:`stained_brightfield`).
STAIN_SATURATION_GAP = 0.2


def luminance(tile: np.ndarray) -> np.ndarray:
    """Float32 luminance of a gray, RGB or RGBA tile (alpha ignored), in data units."""
    tile = np.asarray(tile)
    if tile.ndim == 2:
        return tile.astype(np.float32)
    if tile.shape[-1] == 1:
        return tile[..., 0].astype(np.float32)
    return tile[..., :3].astype(np.float32) @ LUMA


def stained_brightfield(sample: np.ndarray, fs: float) -> bool:
    """Whether an RGB image looks like stained tissue in transmitted light from its colour alone.

    Dense H&E fields, where nuclei and cytoplasm fill the frame, have a luminance median nearer the
    dark end than the light one, as fluorescence has. Colour tells them apart: stains absorb some
    wavelengths and pass others, so a stained image's darkest pixels are coloured, not black, and
    its brightest ones tend to the lamp's white (so the dark ones are the more saturated); in a
    fluorescence composite the background is black, or a dim version of a dye's colour, and each
    dye's colour rises with its signal. Gray data (or gray stored as RGB) is never judged by this.
    Thresholds: :data:`STAIN_CHROMA`, :data:`FLUORESCENCE_RHO`, :data:`STAIN_SATURATION_GAP`.
    """
    a = np.asarray(sample)
    if a.ndim != 3 or a.shape[-1] < 3:
        return False
    step = max(1, int(np.sqrt(a.shape[0] * a.shape[1] / 65536)))
    rgb = a[::step, ::step, :3].reshape(-1, 3).astype(np.float32)
    rgb = rgb[np.isfinite(rgb).all(axis=1)]
    if len(rgb) < 100 or fs <= 0:
        return False
    lum = rgb @ LUMA
    peak = rgb.max(axis=1)
    chroma = (peak - rgb.min(axis=1)) / fs
    dark = lum <= np.percentile(lum, 10)
    if np.median(chroma[dark]) < STAIN_CHROMA or np.ptp(chroma) == 0:
        return False
    saturation = chroma * fs / np.maximum(peak, 1e-6 * fs)
    if np.median(saturation[dark]) - np.median(saturation[lum >= np.percentile(lum, 90)]) < STAIN_SATURATION_GAP:
        return False  # one hue at every brightness: a dye's emission over a background of its colour
    from scipy.stats import spearmanr

    rho = spearmanr(lum, chroma).statistic
    return bool(np.isfinite(rho) and rho < FLUORESCENCE_RHO)


def full_scale(dtype, sample: np.ndarray | None = None) -> float:
    """Nominal full-scale value: for integers the maximum of the bit depth the data use (8-bit
    types: 255; 12-bit data in a 16-bit file: 4095; see :func:`integer_full_scale`), 1.0 for
    floats within [0, 1], else the data max."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        return integer_full_scale(dtype, None if sample is None else colour_peak(sample))
    if dtype == np.bool_:
        return 1.0
    if sample is not None and sample.size:
        peak = float(np.nanmax(sample))
        return 1.0 if peak <= 1.0 else peak
    return 1.0


@dataclass(frozen=True)
class IntensityStats:
    """Image-wide luminance statistics used to normalise every tile."""

    low: float
    high: float
    background: float
    full_scale: float
    polarity: str  # "dark_on_light" (brightfield) or "light_on_dark" (fluorescence)

    @property
    def range(self) -> float:
        return max(self.high - self.low, 1e-6 * self.full_scale, 1e-12)

    @classmethod
    def from_sample(cls, sample: np.ndarray, dtype) -> "IntensityStats":
        lum = luminance(sample)
        finite = lum[np.isfinite(lum)]
        if finite.size == 0:
            if np.asarray(sample).dtype.kind == "f" and np.isfinite(sample).any():
                raise ValueError("the image's pixel values lie beyond 32-bit float range (about ±3.4e38): "
                                 "rescale it first")
            raise ValueError("the image has no finite pixel values")
        fs = full_scale(dtype, sample if np.dtype(dtype).kind in "ui" else finite)
        low, med, high = np.percentile(finite, [0.5, 50, 99.5])
        polarity = "dark_on_light" if (high - med) < (med - low) else "light_on_dark"
        # very dark surrounds (a ring) must not decide the polarity of a brightfield image
        bright = finite[finite > DARK_LEVEL * fs]
        if bright.size > 0.2 * finite.size and polarity == "light_on_dark":
            blow, bmed, bhigh = np.percentile(bright, [0.5, 50, 99.5])
            if (bhigh - bmed) < 0.5 * (bmed - blow) and bmed > 0.5 * fs:
                polarity = "dark_on_light"
        if polarity == "light_on_dark" and stained_brightfield(sample, fs):  # dense stained tissue
            polarity = "dark_on_light"
        return cls(float(low), float(high), float(med), fs, polarity)


def normalise(lum: np.ndarray, stats: IntensityStats) -> np.ndarray:
    """Luminance scaled so the image's 0.5–99.5 percentile range spans 1.0; NaN → background."""
    out = (lum - stats.low) / stats.range
    if not np.isfinite(out).all():
        out = np.where(np.isfinite(out), out, (stats.background - stats.low) / stats.range)
    return out.astype(np.float32)


def focus_measures(g: np.ndarray, *, return_smoothed: bool = False):
    """Log band-energy ratios of a normalised tile: ``(laplacian, gradient, midband)``.

    Each is the energy of a band (Laplacian of the σ=1 smoothed tile; its
    gradient energy; the σ 2–4 difference of Gaussians) divided by the
    variance of the tile minus its σ=16 background, in natural log.
    """
    g1 = ndi.gaussian_filter(g, 1.0, mode="reflect")
    g2 = ndi.gaussian_filter(g1, np.sqrt(3.0), mode="reflect")  # σ 2
    g4 = ndi.gaussian_filter(g2, np.sqrt(12.0), mode="reflect")  # σ 4
    g16 = ndi.gaussian_filter(g4, np.sqrt(240.0), mode="reflect")  # σ 16
    total = float((g - g16).var()) + 1e-10
    lap = ndi.laplace(g1)
    gy, gx = np.gradient(g1)
    logs = (float(np.log(lap.var() / total + 1e-12)),
            float(np.log((gy * gy + gx * gx).mean() / total + 1e-12)),
            float(np.log((g2 - g4).var() / total + 1e-12)))
    return (logs, g2) if return_smoothed else logs


def noise_sigma(g: np.ndarray) -> float:
    """Gaussian noise std (Immerkær 1996), in the units of ``g``."""
    if min(g.shape) < 3:
        return 0.0
    # the 3 × 3 kernel [[1,-2,1],[-2,4,-2],[1,-2,1]] is the outer product of [1,-2,1] with itself:
    # two second differences give its response on the interior pixels
    d = g[:, :-2] - 2 * g[:, 1:-1] + g[:, 2:]
    resp = d[:-2] - 2 * d[1:-1] + d[2:]
    return float(np.sqrt(np.pi / 2) / 6 * np.abs(resp).mean())


def content_fraction(g: np.ndarray, polarity: str, *, smoothed: np.ndarray | None = None) -> float:
    """Share of pixels that depart from the tile's own background by ``CONTENT_DELTA``.

    The background is the bright end (brightfield) or the dark end
    (fluorescence) of the smoothed tile, so slow illumination changes across
    a slide do not count as content, and blurred cells still do.
    """
    s = ndi.gaussian_filter(g, 2.0, mode="reflect") if smoothed is None else smoothed
    if polarity == "dark_on_light":
        return float((s < np.percentile(s, 95) - CONTENT_DELTA).mean())
    return float((s > np.percentile(s, 5) + CONTENT_DELTA).mean())


def dark_fraction(lum: np.ndarray, full: float) -> float:
    """Share of pixels darker than ``DARK_LEVEL`` of full scale."""
    return float((lum < DARK_LEVEL * full).mean())


def clipped_fraction(lum: np.ndarray, full: float) -> float:
    """Share of pixels at (or within 0.5% of) full scale."""
    return float((lum >= 0.995 * full).mean())


def quick_measures_batch(tiles, stats: IntensityStats) -> list[dict]:
    """Content, dark, clipped and noise of each tile at a fraction of the classical cost:
    content and exposure on every 4th pixel (smoothed), noise on the central 256 × 256 pixels.
    Tiles of one shape and dtype are measured together, as a stack (the figures are those of
    one tile at a time, up to float rounding)."""
    out: list = [None] * len(tiles)
    groups: dict = {}
    for i, t in enumerate(tiles):
        groups.setdefault((np.shape(t), np.asarray(t).dtype.str), []).append(i)
    for idx in groups.values():
        ts = [np.asarray(tiles[i]) for i in idx]
        h, w = ts[0].shape[:2]
        cy, cx = max(h // 2 - 128, 0), max(w // 2 - 128, 0)
        sub = _stack_luminance(np.stack([t[1::4, 1::4] for t in ts]))
        centre = _stack_luminance(np.stack([t[cy:cy + 256, cx:cx + 256] for t in ts]))
        for i, row in zip(idx, _measure_stack(sub, centre, stats)):
            out[i] = row
    return out


def _stack_luminance(stack: np.ndarray) -> np.ndarray:
    """:func:`luminance` of each image of an ``(n, H, W[, C])`` stack."""
    if stack.ndim == 3:
        return stack.astype(np.float32)
    return stack[..., 0].astype(np.float32) if stack.shape[-1] == 1 else stack[..., :3].astype(np.float32) @ LUMA


def _measure_stack(lum: np.ndarray, centre: np.ndarray, stats: IntensityStats) -> list[dict]:
    """Quick measures from luminance stacks: ``lum`` every 4th pixel, ``centre`` the middle."""
    n = len(lum)
    lum = np.where(np.isfinite(lum), lum, stats.background)
    small = normalise(lum, stats)
    smooth = ndi.gaussian_filter(small, (0, 0.7, 0.7), mode="reflect")
    flat = smooth.reshape(n, -1)
    if stats.polarity == "dark_on_light":
        content = (flat < np.percentile(flat, 95, axis=1)[:, None] - CONTENT_DELTA).mean(axis=1)
        dark = (lum < DARK_LEVEL * stats.full_scale).reshape(n, -1).mean(axis=1)
    else:
        content = (flat > np.percentile(flat, 5, axis=1)[:, None] + CONTENT_DELTA).mean(axis=1)
        dark = np.zeros(n)
    clipped = (lum >= 0.995 * stats.full_scale).reshape(n, -1).mean(axis=1)
    if not np.isfinite(centre).all():
        centre = np.where(np.isfinite(centre), centre, stats.background)
    noise = _noise_stack(centre) / stats.range  # second differences drop normalise's offset
    return [{"content": float(c), "dark": float(d), "clipped": float(k), "noise": float(z)}
            for c, d, k, z in zip(content, dark, clipped, noise)]


def _noise_stack(g: np.ndarray) -> np.ndarray:
    """:func:`noise_sigma` of each image of an ``(n, H, W)`` stack."""
    if min(g.shape[1:]) < 3:
        return np.zeros(len(g))
    d = g[:, :, :-2] + g[:, :, 2:]
    d -= 2 * g[:, :, 1:-1]
    resp = d[:, :-2] + d[:, 2:]
    resp -= 2 * d[:, 1:-1]
    np.abs(resp, out=resp)
    return np.sqrt(np.pi / 2) / 6 * resp.reshape(len(g), -1).mean(axis=1, dtype=np.float64)


def _smoothstep(x: float, lo: float, hi: float) -> float:
    t = min(max((x - lo) / (hi - lo), 0.0), 1.0)
    return t * t * (3 - 2 * t)


def usability(dark: float, clipped: float) -> float:
    """0–1: falls to 0 as a tile turns mostly black (dark ring) or mostly saturated."""
    return (1 - _smoothstep(dark, 0.3, 0.7)) * (1 - _smoothstep(clipped, 0.8, 0.98))


def tile_flag(dark: float, clipped: float) -> str:
    return "dark_edge" if dark > 0.5 else "saturated" if clipped > 0.9 else ""
