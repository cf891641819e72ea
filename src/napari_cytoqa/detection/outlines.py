"""Cell outlines: each instance of a label image as a polygon in pixel-edge coordinates (GUI-free).

For GeoJSON (QuPath shows the nuclei as drawn, with their areas) where a box is too coarse. The
ring runs along the instance's boundary at the 0.5 level between its pixels and the others
(``skimage.measure.find_contours``: corners cut by half a pixel), its collinear vertices dropped
(exact; ``skimage.measure.approximate_polygon`` took 0.6 ms a cell, 20× the contour itself, and at
half a pixel's tolerance cut whole triangles off a square); pixel ``(i, j)`` covers
``[i, i + 1) × [j, j + 1)``, as in :mod:`napari_cytoqa.io.geojson`.

An image too large to keep its instance label image (``detect_cells(keep_labels=...)``) keeps each
cell's outline instead, taken from the tile that owns it (:func:`tile_outlines`, :class:`Rings`); QuPath
cells are then grown from those outlines (:func:`ring_cells`).
"""
from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class Rings:
    """The outlines of N objects in one flat array, for a whole slide's cells: ring ``i`` is
    ``vertices[offsets[i]:offsets[i + 1]]`` (``(y, x)`` float32, pixel edges, open; empty: no outline).
    """

    vertices: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_list(cls, rings) -> Rings:
        """From one ``(k, 2)`` array (or None: no outline) per object."""
        rings = [np.zeros((0, 2)) if r is None else np.asarray(r).reshape(-1, 2) for r in rings]
        offsets = np.zeros(len(rings) + 1, np.int64)
        offsets[1:] = np.cumsum([len(r) for r in rings])
        vertices = np.concatenate(rings).astype(np.float32) if rings else np.zeros((0, 2), np.float32)
        return cls(vertices.reshape(-1, 2), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.vertices[self.offsets[i]:self.offsets[i + 1]].astype(np.float64)

    def subset(self, keep) -> Rings:
        """The rings where the boolean ``keep`` (``(N,)``) is True, in order."""
        keep = np.asarray(keep, bool).reshape(-1)
        lengths = np.diff(self.offsets)
        offsets = np.zeros(int(keep.sum()) + 1, np.int64)
        offsets[1:] = np.cumsum(lengths[keep])
        return Rings(self.vertices[np.repeat(keep, lengths)], offsets)

    def as_dict(self, downsample: float = 1.0) -> dict:
        """``{i + 1: ring × downsample}`` for the objects with an outline, as :func:`label_outlines`
        (label ``i + 1`` is object ``i``)."""
        return {i + 1: self[i] * downsample for i in range(len(self)) if self.offsets[i + 1] > self.offsets[i]}


def tile_outlines(labels, keep, *, origin=(0, 0)) -> tuple[list, np.ndarray]:
    """``(rings, areas)`` of a tile's instances: ``rings[i]`` the outline of label ``i + 1`` where
    ``keep[i]`` (the instances the tile owns; else None), ``origin`` added (where the tile starts in
    the image), as :func:`label_outlines`; ``areas[i]`` its pixel count."""
    from scipy import ndimage as ndi

    labels = np.asarray(labels)
    n = len(keep)
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:n + 1]
    rings = [None] * n
    boxes = ndi.find_objects(labels, max_label=n)
    for i in np.flatnonzero(np.asarray(keep, bool)):
        box = boxes[i]
        if box is not None:
            rings[i] = _outline(labels[box] == i + 1, np.array([box[0].start, box[1].start]) + np.asarray(origin), 1.0)
    return rings, areas


def _fill(ring, y0: int, x0: int, shape) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (rows, cols of a window starting at ``(y0, x0)``) whose centres lie inside ``ring``
    (pixel edges): the instance :func:`_outline` was traced from."""
    from skimage.draw import polygon

    return polygon(ring[:, 0] - 0.5 - y0, ring[:, 1] - 0.5 - x0, shape)


def ring_cells(rings: Rings, distance: float, *, bounds=None, downsample: float = 1.0) -> dict:
    """:func:`cell_outlines` from outlines instead of a label image (an image too large to keep one):
    each object's outline filled in a window around it with its neighbours', grown by ``distance``
    pixels without crossing a neighbour's growth, outlined again; ``{i + 1: ring × downsample}``.
    ``bounds`` ``(y0, x0, y1, x1)``: the area analysed, which no cell grows beyond (as a label image's
    edges bound :func:`cell_outlines`)."""
    from skimage.segmentation import expand_labels

    pad = int(np.ceil(distance)) * 2 + 2
    n = len(rings)
    lo = np.full((n, 2), np.inf)
    hi = np.full((n, 2), -np.inf)
    for i in range(n):
        r = rings[i]
        if len(r) >= 3:
            lo[i], hi[i] = r.min(0), r.max(0)
    has = np.isfinite(lo[:, 0])
    out = {}
    order = np.argsort(lo[:, 0])  # neighbours by their top edge: a window's candidates are a slice of it
    tops = lo[order, 0]
    span = float(np.max(hi[has, 0] - lo[has, 0])) if has.any() else 0.0
    for i in np.flatnonzero(has):
        y0, x0 = int(np.floor(lo[i, 0])) - pad, int(np.floor(lo[i, 1])) - pad
        y1, x1 = int(np.ceil(hi[i, 0])) + pad, int(np.ceil(hi[i, 1])) + pad
        if bounds is not None:
            y0, x0 = max(y0, int(bounds[0])), max(x0, int(bounds[1]))
            y1, x1 = min(y1, int(bounds[2])), min(x1, int(bounds[3]))
        a, b = np.searchsorted(tops, [y0 - span, y1], side="left")
        near = order[a:b]
        near = near[has[near] & (hi[near, 0] >= y0) & (lo[near, 1] <= x1) & (hi[near, 1] >= x0)]
        window = np.zeros((y1 - y0, x1 - x0), np.int32)
        for j in near:  # the neighbours first, the cell itself last: its own pixels are never lost
            if j != i:
                window[_fill(rings[j], y0, x0, window.shape)] = j + 1
        window[_fill(rings[i], y0, x0, window.shape)] = i + 1
        ring = _outline(expand_labels(window, distance) == i + 1, np.array([y0, x0]), downsample)
        if ring is not None:
            out[i + 1] = ring
    return out
