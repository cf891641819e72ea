"""Detection in a region of an image (``detect_cells(..., region=...)``), GUI-free.

A region is a box ``(y0, x0, y1, x1)`` or one or more polygons (``(N, 2)`` arrays of ``(y, x)``
vertices; a napari Shapes layer's rectangles and polygons), in pixels of the analysed level and
coordinates as in slicing (pixel ``(i, j)`` spans ``[i, i + 1) × [j, j + 1)``; a box is
``image[y0:y1, x0:x1]``). The
detectors run on the bounding box only — on a lazy slide nothing outside it is read — with the
image-wide statistics of the whole image, so a region finds what a whole-image run finds there;
with polygons, objects whose box centre lies outside every polygon are dropped.
"""
from __future__ import annotations

import numpy as np

from ..quality.assess import MIN_SIDE


def resolve_region(region, shape) -> tuple[tuple[int, int, int, int], list | None]:
    """``(box, polygons)`` for ``region`` in an image of ``shape``: the whole pixels of the image
    the region covers (its bounding box, clipped to the image) and its polygons (None for a box).
    Raises ``ValueError`` for a malformed region or one that leaves under 16 × 16 pixels."""
    h, w = int(shape[0]), int(shape[1])
    try:
        if isinstance(region, np.ndarray) and region.ndim == 2 or (
                not isinstance(region, np.ndarray) and len(region) and np.ndim(region[0]) == 1):
            polygons = [np.asarray(region, float)]  # one polygon
        elif np.ndim(region) == 1:
            polygons = None
        else:
            polygons = [np.asarray(p, float) for p in region]
        if polygons is None:
            y0, x0, y1, x1 = (float(v) for v in region)
        else:
            if not polygons or any(p.ndim != 2 or p.shape[1] != 2 or len(p) < 3 for p in polygons):
                raise ValueError
            every = np.concatenate(polygons)
            (y0, x0), (y1, x1) = every.min(0), every.max(0)
    except (TypeError, ValueError):
        raise ValueError("region must be a box (y0, x0, y1, x1) or polygons of (y, x) vertices (at least 3 each), "
                         f"in pixels of the analysed level; got {region!r:.200}") from None
    if not np.isfinite([y0, x0, y1, x1]).all() or y1 <= y0 or x1 <= x0:
        raise ValueError(f"region must have y1 > y0 and x1 > x0 (finite pixel coordinates), got {region!r:.200}")
    box = (max(0, int(np.floor(y0))), max(0, int(np.floor(x0))), min(h, int(np.ceil(y1))), min(w, int(np.ceil(x1))))
    if box[2] - box[0] < MIN_SIDE or box[3] - box[1] < MIN_SIDE:
        raise ValueError(f"region {box} of the {h}×{w} image leaves under {MIN_SIDE}×{MIN_SIDE} pixels inside it")
    return box, polygons


def points_inside(points, polygons) -> np.ndarray:
    """Whether each ``(y, x)`` point (``(N, 2)``, slicing coordinates: pixel ``(i, j)`` spans
    ``[i, i + 1) × [j, j + 1)``) lies inside any polygon."""
    from skimage.measure import points_in_poly

    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    keep = np.zeros(len(points), bool)
    for p in polygons:
        keep |= points_in_poly(points, p)
    return keep


def inside_polygons(boxes, polygons) -> np.ndarray:
    """Whether each box's centre (``(N, 4)`` ``y0 x0 y1 x1``, half-open) lies inside any polygon
    (:func:`points_inside`)."""
    from .merge import box_centres

    return points_inside(box_centres(boxes), polygons)


def region_area(box, polygons, *, max_pixels: int = 4_000_000) -> float:
    """Pixels (of the analysed level) the region covers: the box's, or the union of its polygons
    inside it, rasterised at up to ``max_pixels`` (coarser for large boxes: the area then comes
    from pixel blocks, close to the exact one for any region a cell count is made in)."""
    from skimage.draw import polygon as fill

    y0, x0, y1, x1 = box
    if polygons is None:
        return float((y1 - y0) * (x1 - x0))
    f = max(1.0, float(np.sqrt((y1 - y0) * (x1 - x0) / max_pixels)))
    shape = (int(np.ceil((y1 - y0) / f)), int(np.ceil((x1 - x0) / f)))
    mask = np.zeros(shape, bool)
    for p in polygons:  # a pixel counts where its centre lies inside
        rr, cc = fill((p[:, 0] - y0) / f - 0.5, (p[:, 1] - x0) / f - 0.5, shape)
        mask[rr, cc] = True
    return float(mask.sum()) * f * f
