"""Intensity statistics and noise for detection that survive sparse, empty and noisy images,
GUI-free.

The detectors see tiles scaled by the image's 0.5–99.5 percentiles
(:class:`~..quality.measures.IntensityStats`). In a field with a handful of cells on an empty
background the cells hold under 0.5 % of the pixels, so both percentiles fall in the
background's noise: the noise is stretched to full contrast, the polarity is a coin toss, and
the networks find hundreds of "cells" in it. :func:`detection_stats` keeps the percentiles
wherever the objects are plentiful (every image like the training data: bit-identical), and
otherwise scales by the objects that are there, or, with none, keeps the noise as faint as it
is in the training data. :func:`sparse_otsu` does the same for the classical detector, and
:func:`match_training_noise` smooths tiles noisier than the training fields.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage as ndi

from ..quality.measures import IntensityStats, luminance

#: a pixel belongs to an object when it lies this many noise σ from its surroundings: the
#: luminance minus its Gaussian blur of this σ (px of the statistics sample), so uneven light and
#: a stained film, which vary over hundreds of pixels, are not taken for objects
FLATTEN_SIGMA = 32.0
OBJECT_SIGMA = 6.0
#: objects (on either side of the background) must hold this share of the pixels for the
#: percentiles to describe them; below it the image is sparse
SPARSE_SHARE = 0.01
#: fewer object pixels than this: no object at all (a blank field; hot pixels)
MIN_OBJECT_PIXELS = 30
#: in a sparse or blank field the signal end lies at least this many noise σ from the background:
#: the narrowest percentile range among the generators' default fields (they span 46–270 σ; the
#: varied scenes of the training recipes reach down to 28 σ in fluorescence and 38 σ in
#: brightfield; the real DSB nuclei image, dense and so unaffected, 29), so a blank field's noise
#: is shown no stronger than in a typical training field (30 σ still let the U-Net take the
#: darkest patches of a blank smear's uneven stain for cells: 47 in one 512² field)
MIN_SIGNAL_SIGMA = 46.0


def noise_sigma(lum: np.ndarray) -> float:
    """Pixel noise σ of a 2-D luminance sample: the median absolute deviation of horizontal
    neighbour differences (structures barely move it), over √2."""
    d = np.diff(np.asarray(lum, np.float64), axis=-1).ravel()
    d = d[np.isfinite(d)]
    if d.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2))


def _extreme(deviation: np.ndarray) -> float:
    """Mean of the :data:`MIN_OBJECT_PIXELS` largest deviations: how far the objects on one side
    reach (uneven light covers more pixels than a lone cell, but by far less)."""
    return float(np.sort(deviation)[-MIN_OBJECT_PIXELS:].mean()) if deviation.size else 0.0


def _percentiles_reach(stats: IntensityStats, above: np.ndarray, below: np.ndarray) -> bool:
    """Whether the plain signal end reaches half as far from the background as the objects on
    that side do from their surroundings (in a field of a few bright nuclei and their blur, the
    99.5th percentile can fall on the blur)."""
    if stats.polarity == "light_on_dark":
        return above.size == 0 or stats.high - stats.background >= 0.5 * np.percentile(above, 99)
    return below.size == 0 or stats.background - stats.low >= 0.5 * np.percentile(below, 99)


def detection_stats(sample: np.ndarray, dtype) -> IntensityStats:
    """:meth:`IntensityStats.from_sample`, corrected for sparse and empty images.

    Pixels more than :data:`OBJECT_SIGMA` noise σ (:func:`noise_sigma`) above or below their
    surroundings (:data:`FLATTEN_SIGMA`) are object pixels. When either side holds at least
    :data:`SPARSE_SHARE` of the pixels and the percentiles reach the objects
    (:func:`_percentiles_reach`) the statistics are returned unchanged. Otherwise the
    polarity is the side whose objects reach farthest (:func:`_extreme`), and the signal end
    (``high`` for fluorescence, ``low`` for brightfield) lies as far from the background (the
    median) as that side's object pixels reach from their surroundings (99th percentile), and at
    least :data:`MIN_SIGNAL_SIGMA` σ. With fewer than :data:`MIN_OBJECT_PIXELS` object pixels on
    both sides (a blank field) only that floor applies, and the polarity follows the background:
    above half the full scale brightfield, else fluorescence.
    """
    return _statistics(sample, dtype)[1]


def plain_and_detection_stats(sample: np.ndarray, dtype) -> tuple[IntensityStats, IntensityStats]:
    """The plain statistics and :func:`detection_stats`'s, from one pass over ``sample``."""
    return _statistics(sample, dtype)[:2]


def _statistics(sample: np.ndarray, dtype) -> tuple[IntensityStats, IntensityStats, float]:
    """The plain statistics, :func:`detection_stats`'s, and the sample's measured noise σ."""
    stats = IntensityStats.from_sample(sample, dtype)
    lum = luminance(sample)
    finite = np.isfinite(lum)
    med = stats.background
    measured = noise_sigma(lum)
    # at least the rounding of 8-bit data: a noiseless background is flat to that precision
    sigma = max(measured, 0.5 if np.dtype(dtype).kind in "ui" else stats.full_scale / 510)
    filled = np.where(finite, lum, med).astype(np.float64)
    deviation = (filled - ndi.gaussian_filter(filled, FLATTEN_SIGMA, mode="reflect"))[finite]
    above = deviation[deviation > OBJECT_SIGMA * sigma]
    below = -deviation[deviation < -OBJECT_SIGMA * sigma]
    if max(above.size, below.size) >= SPARSE_SHARE * deviation.size and _percentiles_reach(stats, above, below):
        return stats, stats, measured
    if max(above.size, below.size) >= MIN_OBJECT_PIXELS:
        polarity = "light_on_dark" if _extreme(above) >= _extreme(below) else "dark_on_light"
    else:  # a blank field: the percentiles' polarity is a coin toss there; a bright one is brightfield
        polarity = "dark_on_light" if med > 0.5 * stats.full_scale else "light_on_dark"
    floor = MIN_SIGNAL_SIGMA * sigma
    if polarity == "light_on_dark":
        reach = float(np.percentile(above, 99)) if above.size >= MIN_OBJECT_PIXELS else 0.0
        return stats, replace(stats, high=max(med + max(reach, floor), stats.high), polarity=polarity), measured
    reach = float(np.percentile(below, 99)) if below.size >= MIN_OBJECT_PIXELS else 0.0
    return stats, replace(stats, low=min(med - max(reach, floor), stats.low), polarity=polarity), measured


def sparse_otsu(sample: np.ndarray, dtype, polarity: str, threshold: float) -> tuple[str, float]:
    """The classical detector's polarity and grey-level threshold, corrected like
    :func:`detection_stats`: unchanged where that leaves the statistics unchanged (dense images);
    in sparse and blank ones its polarity, and a threshold at least :data:`OBJECT_SIGMA` noise σ
    beyond the background on the cells' side (Otsu's threshold cuts even pure noise in two)."""
    plain, ours, measured = _statistics(sample, dtype)
    if ours == plain:
        return polarity, threshold
    margin = OBJECT_SIGMA * max(measured, 0.5 if np.dtype(dtype).kind in "ui" else 0.0)
    if ours.polarity == "dark_on_light":
        return ours.polarity, min(threshold, ours.background - margin)
    return ours.polarity, max(threshold, ours.background + margin)


#: tiles whose noise σ exceeds ``range / NOISE_TARGET_SIGMA`` are smoothed down to it before the
#: sharp U-Net (``detect_cells``' default ``denoise="auto"``) or every detector (``denoise=True``)
#: sees them (:func:`match_training_noise`); 0 turns this off. Chosen on development
#: fields (seeds 781000+, dim fluorescence and noisy smears; 64 and 128 did worse there).
NOISE_TARGET_SIGMA = 92.0


def match_training_noise(tile: np.ndarray, stats: IntensityStats) -> np.ndarray:
    """``tile``, Gaussian-smoothed where its pixel noise is strong against the image's signal
    range: the networks learnt on fields whose range spans 28–280 noise σ, and in a dim,
    photon-starved field (14 σ) the U-Net found three times too many nuclei in the grain. A
    Gaussian of σ ``s`` px divides white noise by ``2 √π s``, so ``s`` brings the noise to
    ``stats.range / NOISE_TARGET_SIGMA``. Other tiles are returned as they are (the same
    object). By default used before the sharp U-Net only (``denoise="auto"``; rules N and N2,
    docs/detection.md)."""
    if not NOISE_TARGET_SIGMA:
        return tile
    t = np.asarray(tile)
    lum = luminance(t)
    finite = np.isfinite(lum)
    if finite.sum() < 2:
        return tile
    sigma = noise_sigma(np.where(finite, lum, np.nanmedian(lum)))
    if sigma <= 0 or stats.range / sigma >= NOISE_TARGET_SIGMA:
        return tile
    s = NOISE_TARGET_SIGMA * sigma / stats.range / (2 * np.sqrt(np.pi))
    x = t.astype(np.float32)
    nan = ~np.isfinite(x)
    if nan.any():
        x = np.where(nan, np.float32(stats.background), x)
    x = ndi.gaussian_filter(x, (s, s) + (0,) * (x.ndim - 2), mode="reflect")
    return np.where(nan, np.nan, x).astype(np.float32) if nan.any() else x
