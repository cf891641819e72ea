"""Detecting cells in every plane of a stack: counts per frame of a time-lapse, per plane of a Z
series (no Qt). The ``cytoqa detect --plane all`` command and the detection widget's "Detect in
every plane" are its twins."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..stacks import PlaneRows, _is_slide, check_planes, iter_planes, one_plane, plane_label


@dataclass
class PlaneDetections(PlaneRows):
    """What :func:`detect_planes` found: ``table`` has one row per plane (``plane``: its label,
    ``index``: its indices, ``count``, the area searched ``area_px`` in pixels of the analysed level
    and, where the pixel size is known, ``area_mm2`` and ``cells_per_mm2``, and ``blur_level``: the
    mean of the tiles' blur levels where the focus model ran); ``detections`` maps each plane's
    indices to its :class:`~napari_cytoqa.detection.Detections`."""

    table: pd.DataFrame
    detections: dict

    @classmethod
    def from_detections(cls, pairs, *, pixel_size_um=None, downsample: float = 1.0) -> PlaneDetections:
        """From ``(plane indices, Detections)`` pairs in order; ``pixel_size_um`` of level 0 (None:
        unknown) and ``downsample`` (level-0 pixels per analysed pixel) give the densities."""
        detections = {tuple(int(i) for i in plane): det for plane, det in pairs}
        rows = []
        for plane, det in detections.items():
            um2 = det.area_um2(pixel_size_um, downsample=downsample)
            focus = np.asarray(det.tile_focus, float)
            rows.append({"plane": plane_label(plane), "index": plane, "count": det.count, "area_px": det.area,
                         "area_mm2": None if um2 is None else um2 / 1e6,
                         "cells_per_mm2": None if not um2 else det.count / (um2 / 1e6),
                         "blur_level": float(np.mean(focus[np.isfinite(focus)])) if np.isfinite(focus).any()
                         else None})
        return cls(table=pd.DataFrame(rows), detections=detections)


def _pixel_size(image, pixel_size):
    if pixel_size is not None and pixel_size != "auto":
        return pixel_size
    return getattr(image, "pixel_size_um", None) if _is_slide(image) else None


def iter_detect_planes(image, *, planes=None, **options):
    """Generator twin of :func:`detect_planes`: yields ``(done, total)`` tiles over all planes and
    returns the :class:`PlaneDetections`. Closing it stops the work between tiles."""
    from .detect import iter_detect_cells

    planes = check_planes(image, planes)
    first = one_plane(image, planes[0])
    levels = first.levels if _is_slide(image) else first
    level = min(int(options.get("level", 0)), len(levels) - 1)
    down = levels[0].shape[0] / levels[level].shape[0]
    pairs = yield from iter_planes(image, planes, iter_detect_cells, **options)
    return PlaneDetections.from_detections(pairs, pixel_size_um=_pixel_size(image, options.get("pixel_size")),
                                           downsample=down)


def detect_planes(image, *, planes=None, progress=None, cancel=None, **options) -> PlaneDetections:
    """Detect cells in every plane of a stack (or the ``planes`` given) with
    :func:`~napari_cytoqa.detection.detect_cells` and its keyword ``options``: the count per frame of
    a time-lapse, per plane of a Z series.

    Parameters
    ----------
    image : Slide, array-like or list of arrays
        A stack, as for :func:`~napari_cytoqa.quality.planes.assess_planes`.
    planes : iterable, optional
        Plane indices in order; default every plane (:func:`~napari_cytoqa.stacks.series_planes`
        builds one axis's series).
    progress, cancel : callable, optional
        As for :func:`~napari_cytoqa.detection.detect_cells`; tiles are counted over all planes.

    Returns
    -------
    PlaneDetections
        ``.table`` (one row per plane: count, area, density, blur level) and ``.detections``.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_cytoqa.synthetic.smear import fluorescence_series
    >>> frames = np.stack([s.image for s in fluorescence_series((256, 256), [0, 0], seed=1)])
    >>> found = detect_planes(frames, detector="otsu")
    >>> found.table["count"].tolist() == [found.detections[(k,)].count for k in (0, 1)]
    True
    """
    from .._generators import run_tiles

    return run_tiles(iter_detect_planes(image, planes=planes, **options), progress=progress, cancel=cancel,
                     what="detection in the planes")
