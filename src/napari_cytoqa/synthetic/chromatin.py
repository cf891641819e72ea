"""Textured chromatin for synthetic fluorescence nuclei (scene recipe 4).

Real nuclei are not smooth: stained chromatin shows dark nucleoli, bright chromocentres and
speckles, coarse blotches and often a brighter rim of peripheral heterochromatin (CHO and HeLa
nuclei of the Cell Tracking Challenge; U2OS Hoechst images). Detectors trained on smooth
nuclei split such nuclei at their nucleoli. :func:`chromatin_pattern` makes one nucleus's
multiplicative intensity pattern; the nucleus's mask (its label) is unchanged, so a network
learns that holes and speckles belong to the nucleus.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .shapes import texture

#: lowest share of a nucleus's brightness the pattern leaves anywhere inside it (nucleoli are dim, not empty)
FLOOR = 0.15


def chromatin_pattern(mask: np.ndarray, radius: float, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Multiplicative pattern (mean about 1 inside the nucleus) for a soft nucleus ``mask``
    (values 0..1, square, centred) of radius ``radius`` px. ``strength`` (0..1) scales every
    component: coarse blotches, 0-3 dark nucleoli, bright speckles and a bright rim."""
    if not 0 <= strength <= 1:
        raise ValueError(f"strength must lie in 0..1, got {strength}")
    side = mask.shape[0]
    yy, xx = np.mgrid[:side, :side].astype(np.float64) - side // 2
    pattern = 1 + strength * rng.uniform(0.2, 0.5) * texture(mask.shape, rng, sigma=max(1.0, 0.25 * radius))
    # speckles / chromocentres: bright spots of a few percent of the radius
    n_spots = rng.poisson(strength * rng.uniform(0.1, 0.5) * radius ** 2)
    if n_spots:
        angle, dist = rng.uniform(0, 2 * np.pi, n_spots), radius * np.sqrt(rng.uniform(0, 0.8, n_spots))
        spots = np.zeros(mask.shape)
        ys = np.clip((side // 2 + dist * np.sin(angle)).astype(int), 0, side - 1)
        xs = np.clip((side // 2 + dist * np.cos(angle)).astype(int), 0, side - 1)
        np.add.at(spots, (ys, xs), rng.uniform(0.5, 1.5, n_spots))
        spots = ndi.gaussian_filter(spots, max(0.6, rng.uniform(0.04, 0.1) * radius))
        pattern += strength * rng.uniform(0.5, 1.5) * spots / (spots.max() + 1e-12)
    # nucleoli: dim round bodies away from the edge
    for _ in range(int(rng.integers(0, 4))):
        r = radius * rng.uniform(0.12, 0.3)
        angle, dist = rng.uniform(0, 2 * np.pi), radius * rng.uniform(0, 0.55)
        hole = np.clip(r - np.hypot(yy - dist * np.sin(angle), xx - dist * np.cos(angle)) + 0.5, 0, 1)
        pattern *= 1 - strength * rng.uniform(0.4, 0.85) * hole
    # peripheral heterochromatin: brighter within about a sixth of the radius of the edge
    inside = ndi.distance_transform_edt(mask > 0.5)
    pattern *= 1 + strength * rng.uniform(0.0, 0.6) * np.exp(-inside / max(1.0, radius / 6))
    return np.clip(pattern, FLOOR, None)
