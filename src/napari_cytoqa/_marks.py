"""Layers of marks — annotated cells (Shapes, Points, Labels), regions, areas marked blurry — mapped
onto the pixels of the image layer they were drawn over, whatever the two layers' scale, translation,
rotation or affine (napari-side; the scoring is GUI-free in ``detection.compare`` and
``quality.compare``)."""
from __future__ import annotations

import numpy as np

from ._layers import layer_levels


def _data_mapper(layer, source):
    """A function from ``(K, D)`` data coordinates of ``layer`` to data coordinates of ``source``
    through world coordinates (scale, translation, rotation, shear and affine of both), on whole
    arrays: napari's ``world_to_data(data_to_world(v))`` one vertex at a time took 0.7 s for 20,000
    points. Layers of different dimensionality go vertex by vertex, as napari pads them."""
    from napari.utils.transforms import Affine

    if layer.ndim != source.ndim:
        return lambda data: np.array([source.world_to_data(layer.data_to_world(v)) for v in data], float)

    def physical(lay):
        return Affine(scale=lay.scale, translate=lay.translate, rotate=lay.rotate, shear=lay.shear, ndim=lay.ndim)

    there = physical(layer)
    back = physical(source).inverse
    return lambda data: np.asarray(back(source.affine.inverse(layer.affine(there(np.asarray(data, float))))), float)


def _area_shapes(shapes, source, level: int, plane: tuple):
    """``(k, 2)`` vertex arrays of ``shapes``' rectangles, polygons and ellipses (lines and paths have
    no area) in pixel-edge coordinates of ``source``'s pyramid level ``level``; of an nD Shapes layer
    only those on ``plane`` (a 2-D layer over a stack: all, as napari shows them on every plane)."""
    return (ring for _, ring in _indexed_areas(shapes, source, level, plane))


def shapes_areas(shapes, source, *, plane: tuple = ()) -> tuple[list, list]:
    """``(rings, classes)``: a Shapes layer's areas (as :func:`shapes_region` picks them) in level-0
    pixel edges of ``source``, and each one's ``class`` feature (a QuPath classification; None
    without one) — areas marked blurry or sharp for the QC widget's "compare with"."""
    column = shapes.features["class"] if "class" in getattr(shapes.features, "columns", ()) else None
    rings, classes = [], []
    for i, ring in _indexed_areas(shapes, source, 0, plane):
        rings.append(ring)
        classes.append(None if column is None else column.iloc[i])
    return rings, classes


def _indexed_areas(shapes, source, level: int, plane: tuple):
    """``(index, ring)`` of :func:`_area_shapes`."""
    levels = layer_levels(source, plane)
    down = np.asarray(levels[0].shape[:2], float) / np.asarray(levels[level].shape[:2], float)
    to_source = _data_mapper(shapes, source)
    on_planes = bool(plane) and shapes.ndim - 2 == len(plane)  # a 2-D layer's shapes show on every plane
    for i, (verts, kind) in enumerate(zip(shapes.data, shapes.shape_type)):
        if kind in ("line", "path"):
            continue
        data = to_source(np.asarray(verts, float))
        lead = data[:, :-2]
        if on_planes and not np.allclose(np.rint(lead), plane):
            continue
        yield i, (data[:, -2:] + 0.5) / down


def shapes_region(shapes, source, *, level: int = 0, plane: tuple = ()) -> list | None:
    """The polygons of a Shapes layer (rectangles, polygons, ellipses by their bounding boxes; lines
    and paths have no area and are left out) in pixels of ``source``'s pyramid level ``level``,
    for ``detect_cells(region=...)``; None when none is left. Pixel centres lie on whole numbers
    in napari, at ``i + 0.5`` in the region's slicing coordinates."""
    if shapes is None:
        return None
    return list(_area_shapes(shapes, source, level, plane)) or None


def shapes_boxes(shapes, source, *, level: int = 0, plane: tuple = ()) -> np.ndarray:
    """``(N, 4)`` ``y0 x0 y1 x1`` boxes around a Shapes layer's rectangles, polygons and ellipses in
    pixels of ``source``'s level ``level`` (on ``plane`` of a stack): annotated cells to compare a
    detection run with (``evaluate_detections``)."""
    boxes = [np.concatenate([v.min(axis=0), v.max(axis=0)]) for v in _area_shapes(shapes, source, level, plane)]
    return np.asarray(boxes, float).reshape(-1, 4)


def points_yx(points, source, *, level: int = 0, plane: tuple = ()) -> np.ndarray:
    """``(M, 2)`` ``(y, x)`` of a Points layer's points (cells marked by a click, a QuPath file's
    cells opened as their centres) in pixels of ``source``'s level ``level`` — pixel-edge
    coordinates, as :func:`~napari_cytoqa.detection.compare.point_scores` takes them; of an nD
    Points layer only those on ``plane``."""
    levels = layer_levels(source, plane)
    down = np.asarray(levels[0].shape[:2], float) / np.asarray(levels[level].shape[:2], float)
    data = np.asarray(points.data, float).reshape(-1, points.ndim)
    if not len(data):
        return np.zeros((0, 2))
    data = _data_mapper(points, source)(data)
    if plane and points.ndim - 2 == len(plane):  # a 2-D layer's points show on every plane
        data = data[np.all(np.isclose(np.rint(data[:, :-2]), plane), axis=1)]
    return (data[:, -2:] + 0.5) / down


def labels_boxes(labels, source, *, level: int = 0, plane: tuple = ()) -> np.ndarray:
    """``(N, 4)`` ``y0 x0 y1 x1`` boxes of a Labels layer's instances (a corrected ``cells`` layer, a
    mask opened from a dataset) in pixels of ``source``'s level ``level``; of an nD Labels layer those
    on ``plane``, of a 2-D one over a stack all of them. The box corners go through both layers'
    placement, so a layer at another level or offset (a region's labels) lands where it is drawn."""
    from .detection.compare import label_boxes

    data, lead = _labels_plane(labels, plane)
    if data is None:  # a shorter stack than the image: none annotated here
        return np.zeros((0, 4))
    boxes = label_boxes(data)
    if not len(boxes):
        return boxes
    levels = layer_levels(source, plane)
    down = np.asarray(levels[0].shape[:2], float) / np.asarray(levels[level].shape[:2], float)
    to_source = _data_mapper(labels, source)
    corners = [np.c_[np.tile(np.asarray(lead, float), (len(boxes), 1)), boxes[:, [i, j]] - 0.5]
               for i, j in ((0, 1), (2, 3))]
    (y0, x0), (y1, x1) = ((to_source(c)[:, -2:] + 0.5).T for c in corners)
    out = np.stack([np.minimum(y0, y1), np.minimum(x0, x1), np.maximum(y0, y1), np.maximum(x0, x1)], 1)
    return out / np.tile(down, 2)


def labels_mask(labels, source, *, plane: tuple = ()):
    """``(mask, to_mask)`` of a Labels layer painted over ``source`` (blurry areas for the QC widget's
    "compare with"): its 2-D data on ``plane`` (a 2-D layer over a stack: on every plane) and a function
    from ``(N, 2)`` level-0 pixel-centre coordinates of ``source``'s plane to the mask's; ``mask`` is
    None for a Labels stack shorter than the image."""
    data, _ = _labels_plane(labels, plane)
    if data is None:
        return None, None
    mapper = _data_mapper(source, labels)
    extra = np.asarray(plane, float)

    def to_mask(yx):
        yx = np.asarray(yx, float).reshape(-1, 2)
        full = np.c_[np.tile(extra, (len(yx), 1)), yx] if source.ndim > 2 else yx
        return mapper(full)[:, -2:]

    return data, to_mask


def _labels_plane(labels, plane: tuple) -> tuple:
    """``(data, lead)``: a Labels layer's 2-D data on ``plane`` of an image (full resolution; a 2-D
    layer over a stack: itself) and its leading indices; data None beyond a shorter Labels stack. A
    Labels layer with other plane axes than the image is a ``ValueError``."""
    data = labels.data[0] if getattr(labels, "multiscale", False) else labels.data
    if labels.ndim <= 2:
        return np.asarray(data), ()
    if labels.ndim - 2 != len(plane):
        raise ValueError(f"{labels.name}: a {labels.ndim}-D Labels layer over an image with "
                         f"{len(plane)} plane axes; choose labels of that image")
    lead = tuple(int(p) for p in plane)
    if any(i >= n for i, n in zip(lead, data.shape)):
        return None, lead
    return np.asarray(data[lead]), lead
