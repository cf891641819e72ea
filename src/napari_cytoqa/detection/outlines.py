"""Cell outlines: each instance of a label image as a polygon in pixel-edge coordinates (GUI-free).

For GeoJSON (QuPath shows the nuclei as drawn, with their areas) where a box is too coarse. The
ring runs along the instance's boundary at the 0.5 level between its pixels and the others
(``skimage.measure.find_contours``: corners cut by half a pixel), its collinear vertices dropped
(exact; ``skimage.measure.approximate_polygon`` took 0.6 ms a cell, 20× the contour itself, and at
half a pixel's tolerance cut whole triangles off a square); pixel ``(i, j)`` covers
``[i, i + 1) × [j, j + 1)``, as in :mod:`napari_cytoqa.io.geojson`.
"""
from __future__ import annotations

import numpy as np


def _corners(ring: np.ndarray) -> np.ndarray:
    """``ring`` (open) without the vertices where it goes on in the same direction."""
    step = np.roll(ring, -1, axis=0) - ring
    before = np.roll(step, 1, axis=0)
    turn = np.abs(step[:, 0] * before[:, 1] - step[:, 1] * before[:, 0]) > 1e-9
    return ring[turn] if turn.sum() >= 3 else ring


def _outline(mask: np.ndarray, start, downsample: float):
    """The ring of a 2-D ``mask`` whose pixel ``(0, 0)`` is pixel ``start`` of the image (None: empty)."""
    from skimage.measure import find_contours

    contours = find_contours(np.pad(mask, 1).astype(np.float32), 0.5)
    if not contours:
        return None
    ring = max(contours, key=len)
    if len(ring) > 1 and np.array_equal(ring[0], ring[-1]):
        ring = ring[:-1]
    # mask index m (padded) is pixel m - 1 of the crop; a contour at m sits at edge m + 0.5 - 1 + start
    return (_corners(ring) - 0.5 + np.asarray(start, float)) * downsample


def label_outlines(labels, *, origin=(0, 0), downsample: float = 1.0) -> dict:
    """``{label: (k, 2) ring}`` for every instance of ``labels`` (``(y, x)``, pixel edges, times
    ``downsample``, ``origin`` added first: where ``labels`` starts in the image). An instance in
    several pieces is outlined by its largest piece; the ring is open (last vertex ≠ first)."""
    from scipy import ndimage as ndi

    labels = np.asarray(labels)
    out = {}
    for index, box in enumerate(ndi.find_objects(labels), 1):
        if box is None:
            continue
        ring = _outline(labels[box] == index, np.array([box[0].start, box[1].start]) + np.asarray(origin), downsample)
        if ring is not None:
            out[index] = ring
    return out


def cell_outlines(labels, distance: float, *, origin=(0, 0), downsample: float = 1.0) -> dict:
    """``{label: (k, 2) ring}`` of each nucleus of ``labels`` grown by ``distance`` pixels into the
    background, without crossing into a neighbour's growth (``skimage.segmentation.expand_labels``,
    which QuPath's cell expansion resembles): the cell around a detected nucleus, for QuPath ``cell``
    objects. Worked out in a crop around each nucleus, so a whole level's labels need no
    image-sized distance transform. Coordinates as :func:`label_outlines`."""
    from scipy import ndimage as ndi
    from skimage.segmentation import expand_labels

    labels = np.asarray(labels)
    pad = int(np.ceil(distance)) * 2 + 1  # neighbours whose growth meets this cell's lie within two distances
    out = {}
    for index, box in enumerate(ndi.find_objects(labels), 1):
        if box is None:
            continue
        y0, x0 = max(box[0].start - pad, 0), max(box[1].start - pad, 0)
        y1, x1 = min(box[0].stop + pad, labels.shape[0]), min(box[1].stop + pad, labels.shape[1])
        grown = expand_labels(labels[y0:y1, x0:x1], distance) == index
        ring = _outline(grown, np.array([y0, x0]) + np.asarray(origin), downsample)
        if ring is not None:
            out[index] = ring
    return out
