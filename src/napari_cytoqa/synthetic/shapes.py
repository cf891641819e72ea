"""Soft-edged random shapes stamped into images (shared by the smear and fluorescence generators)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def blob(radius: float, rng: np.random.Generator, *, roughness: float = 0.12,
         elongation: float = 0.25, lobes: int = 0) -> np.ndarray:
    """A soft mask (values 0..1) of an irregular ellipse, cropped to its bounding square."""
    half = int(np.ceil(radius * (1 + elongation + 2 * roughness))) + 2
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    angle = rng.uniform(0, np.pi)
    ca, sa = np.cos(angle), np.sin(angle)
    u, v = ca * xx + sa * yy, -sa * xx + ca * yy
    stretch = 1 + rng.uniform(0, elongation)
    rho = np.hypot(u / stretch, v * np.sqrt(stretch))
    theta = np.arctan2(v, u)
    edge = np.ones_like(theta)
    for k in range(2, 6):
        edge += rng.normal(0, roughness / k) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    if lobes:
        edge += 0.22 * np.cos(lobes * theta + rng.uniform(0, 2 * np.pi))
    return np.clip(radius * edge - rho + 0.5, 0.0, 1.0)


def twin_blob(radius: float, rng: np.random.Generator, *, roughness: float = 0.08) -> np.ndarray:
    """A soft mask (values 0..1) of one nucleus in two overlapping lobes with a waist between them
    (bilobed, peanut-shaped), cropped to its bounding square: lobes of 0.7-0.85 ``radius`` whose
    centres lie 1.0-1.5 lobe radii apart, so the waist is 0.87-0.66 of a lobe's width."""
    lobe = radius * rng.uniform(0.7, 0.85)
    gap = lobe * rng.uniform(1.0, 1.5)
    half = int(np.ceil(gap / 2 + lobe * (1 + 2 * roughness))) + 2
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    angle = rng.uniform(0, np.pi)
    dy, dx = np.sin(angle) * gap / 2, np.cos(angle) * gap / 2
    mask = np.zeros_like(yy)
    for sign in (-1, 1):
        y, x = yy - sign * dy, xx - sign * dx
        theta = np.arctan2(y, x)
        edge = np.ones_like(theta)
        for k in range(2, 5):
            edge += rng.normal(0, roughness / k) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
        np.maximum(mask, np.clip(lobe * edge - np.hypot(y, x) + 0.5, 0.0, 1.0), out=mask)
    return mask


def texture(shape, rng: np.random.Generator, *, sigma: float = 1.5) -> np.ndarray:
    """Smooth zero-mean unit-std noise (chromatin-like granularity)."""
    noise = ndi.gaussian_filter(rng.normal(0, 1, shape), sigma)
    return noise / (noise.std() + 1e-9)


def footprint(shape, mask: np.ndarray, cy: int, cx: int):
    """Where ``mask`` centred at (cy, cx) lands in an image of ``shape``: the slices and the
    part of ``mask`` inside them, or None where it falls outside."""
    h, w = shape[:2]
    half = mask.shape[0] // 2
    y0, x0 = cy - half, cx - half
    ys, xs = max(y0, 0), max(x0, 0)
    ye, xe = min(y0 + mask.shape[0], h), min(x0 + mask.shape[1], w)
    if ys >= ye or xs >= xe:
        return None
    return (slice(ys, ye), slice(xs, xe)), mask[ys - y0:ye - y0, xs - x0:xe - x0]


def stamp(canvas: np.ndarray, mask: np.ndarray, cy: int, cx: int, value) -> tuple:
    """Add ``mask * value`` into ``canvas`` centred at (cy, cx); returns :func:`footprint`'s
    slices and mask part (None where the mask falls outside)."""
    where = footprint(canvas.shape, mask, cy, cx)
    if where is None:
        return None
    region, m = where
    if canvas.ndim == 3:
        canvas[region] += m[..., None] * np.asarray(value)
    else:
        canvas[region] += m * value
    return region, m


def place_centres(n: int, radii: np.ndarray, shape, rng: np.random.Generator, *,
                  min_gap: float = 0.85, taken=None, tries: int = 30) -> list:
    """Random centres with limited overlap: distance ≥ ``min_gap`` × (r_i + r_j)."""
    h, w = shape
    placed = list(taken or [])
    out = []
    for r in radii[:n]:
        for _ in range(tries):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            if all((cy - py) ** 2 + (cx - px) ** 2 >= (min_gap * (r + pr)) ** 2
                   for py, px, pr in placed[-400:]):
                placed.append((cy, cx, r))
                out.append((int(cy), int(cx), float(r)))
                break
    return out


def boxes_from_labels(labels: np.ndarray) -> np.ndarray:
    """``(N, 4)`` float boxes ``y0 x0 y1 x1`` (end exclusive) of labels 1..N."""
    n = int(labels.max()) if labels.size else 0
    boxes = np.zeros((n, 4), dtype=np.float64)
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is not None:
            boxes[i - 1] = (sl[0].start, sl[1].start, sl[0].stop, sl[1].stop)
    return boxes
