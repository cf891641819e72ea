"""Calibration of the classical focus score to seed 003's blur levels.

``FOCUS_CURVES[polarity][L]`` is the median combined log focus score (mean of
the three :func:`~napari_cytoqa.quality.measures.focus_measures`) of synthetic
images at blur level ``L`` = ``2 L`` µm defocus (NA 0.25, 0.5 µm pixels),
measured by ``python scripts/calibrate_classical_focus.py --n 8`` (seeds
1000–1007, 384 px images, mixed densities, stains, noise and JPEG). One
curve per polarity puts brightfield and fluorescence on the same blur scale.
"""
from __future__ import annotations

import numpy as np

FOCUS_CURVES = {
    "dark_on_light": (-3.099, -3.128, -3.210, -3.343, -3.513, -3.697, -3.868, -3.984, -4.063, -4.133, -4.202),
    "light_on_dark": (-3.154, -3.184, -3.278, -3.432, -3.637, -3.866, -4.073, -4.225, -4.341, -4.450, -4.552),
}
#: Blur levels above this are blurry (0–5 sharp, 6–10 blurry; seed 003).
SHARP_BLURRY_BOUNDARY = 5.5
#: Width (in blur levels) of the logistic step from sharp to blurry.
P_BLURRY_WIDTH = 0.35


def blur_level(score: float, polarity: str) -> float:
    """Continuous blur level in [0, 10] from a combined log focus score."""
    curve = np.asarray(FOCUS_CURVES[polarity])
    # the curve decreases with level; np.interp needs increasing x
    return float(np.interp(score, curve[::-1], np.arange(10, -1, -1, dtype=float)))


def p_blurry(level) -> np.ndarray:
    """Probability-like score that a region is blurry (level ≥ 6), from its blur level."""
    return 1.0 / (1.0 + np.exp(-(np.asarray(level, dtype=float) - SHARP_BLURRY_BOUNDARY) / P_BLURRY_WIDTH))


#: JPEG quality at or below which compression lowers a grade one step, and a second step
JPEG_GRADE_BANDS = (12, 6)


def grade(level: float, noise: float = 0.0, jpeg_quality: int | None = None) -> str:
    """bad / fair / good / excellent from blur level, lowered one step per noise band (seed 001's
    grades) and, where ``jpeg_quality`` is given, per band of :data:`JPEG_GRADE_BANDS`."""
    if not np.isfinite(level):
        return ""
    rank = 3 if level <= 2 else 2 if level <= 5 else 1 if level <= 7 else 0
    rank -= int(noise > 0.08) + int(noise > 0.15)
    if jpeg_quality is not None:
        rank -= sum(int(jpeg_quality <= band) for band in JPEG_GRADE_BANDS)
    return GRADES[max(rank, 0)]


GRADES = ("bad", "fair", "good", "excellent")
