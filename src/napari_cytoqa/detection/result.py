"""``Detections``: what :func:`~.detect.detect_cells` returns, with its tables (GUI-free)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Detections:
    """Cells found in one image (pixel coordinates of the analysed pyramid level).

    ``boxes`` ``(N, 4)`` ``y0 x0 y1 x1``; ``scores`` ``(N,)``; ``labels`` an instance label image
    (0 = background; label ``i + 1`` is box ``i``) when the detector segments, else None;
    ``route`` the model each object came from; ``focus`` the blur level of its tile (NaN when
    no focus model was run); ``tiles`` the count per tile.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray | None
    route: np.ndarray
    focus: np.ndarray
    detector: str
    tile_boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    tile_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    tile_focus: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tile_routes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    #: the cell diameter (px) the tiles were resampled for; None = native size
    diameter: float | None = None
    #: share of the pixels at the image's maximum value (:func:`.exposure.saturated_fraction`)
    saturated: float = 0.0
    #: what the user should know about the result (e.g. an over-exposed image); also logged
    warnings: list = field(default_factory=list)
    #: what the detectors saw: ``"none"`` the image as it is, ``"hematoxylin"`` its hematoxylin
    #: channel (stained tissue, ``detect_cells(stain=...)``)
    stain: str = "none"
    #: where ``labels`` start in the image, ``(y, x)``: a region's detections (``detect_cells(...,
    #: region=...)``) keep the labels of that region only; boxes are always in the image's pixels
    origin: tuple = (0, 0)
    #: pixels of the analysed level searched (the region, else the whole image; for densities)
    area: float | None = None
    #: an image too large to keep ``labels``: each instance's outline (:class:`.outlines.Rings`, the
    #: analysed level's pixels) and pixel count, from the tile that owns it; else None
    outlines: object = None
    instance_areas: np.ndarray | None = None

    @property
    def count(self) -> int:
        return int(len(self.boxes))

    def above(self, min_score: float) -> "Detections":
        """A new Detections of the objects scoring at least ``min_score`` (boxes, scores, routes,
        focus; instance labels renumbered 1..N in the same order; tile counts recounted). For
        counting: the U-Net's low-scoring objects are mostly specks and dust (docs/detection.md,
        *Counting confident objects*). This one is not modified."""
        if not (isinstance(min_score, (int, float, np.number)) and np.isfinite(min_score)):
            raise ValueError(f"min_score must be a finite number, got {min_score!r}")
        return self.subset(np.asarray(self.scores, float) >= float(min_score))

    def subset(self, keep) -> "Detections":
        """A new Detections of the objects where the boolean ``keep`` (``(N,)``) is True, as
        :meth:`above` makes one. This one is not modified."""
        from dataclasses import replace

        from .merge import box_owners

        keep = np.asarray(keep, bool).reshape(-1)
        if len(keep) != self.count:
            raise ValueError(f"keep needs one flag per object ({self.count}), got {len(keep)}")
        labels = self.labels
        if labels is not None:
            labels = np.asarray(labels)
            lut = np.zeros(self.count + 1, dtype=labels.dtype)
            lut[1:][keep] = np.arange(1, int(keep.sum()) + 1)
            labels = lut[labels]
        boxes = np.asarray(self.boxes, float).reshape(-1, 4)[keep]
        counts = self.tile_counts
        if len(self.tile_boxes):
            counts = np.bincount(box_owners(boxes, self.tile_boxes), minlength=len(self.tile_boxes))
        return replace(self, boxes=boxes, scores=np.asarray(self.scores, float)[keep], labels=labels,
                       route=np.asarray(self.route)[keep], focus=np.asarray(self.focus, float)[keep],
                       tile_counts=counts, warnings=list(self.warnings),
                       outlines=None if self.outlines is None else self.outlines.subset(keep),
                       instance_areas=None if self.instance_areas is None else self.instance_areas[keep])

    def area_um2(self, pixel_size_um, *, downsample: float = 1.0) -> float | None:
        """The area searched (:attr:`area`) in µm², given the level-0 pixel size (µm, a number or
        ``(y, x)``; None: unknown, as is the answer) and ``downsample`` (level-0 pixels per pixel
        of the analysed level)."""
        if pixel_size_um is None or self.area is None:
            return None
        py, px = np.broadcast_to(np.asarray(pixel_size_um, float), (2,))
        return float(self.area) * float(downsample) ** 2 * py * px

    @property
    def areas(self) -> np.ndarray | None:
        """Pixels of each instance (``(N,)``, box order) when the detector segments, else None."""
        if self.labels is None:
            return None if self.instance_areas is None else np.asarray(self.instance_areas)
        return np.bincount(np.asarray(self.labels).ravel(), minlength=self.count + 1)[1:self.count + 1]

    def to_geojson(self, *, downsample: float = 1.0, outlines: bool = False, cell_expansion: float = 0.0) -> dict:
        """A GeoJSON FeatureCollection of box polygons in pixel coordinates (x right, y down),
        multiplied by ``downsample`` (level-0 pixels per pixel of the analysed pyramid level);
        each feature is a QuPath detection classified by its route, with its score (and focus) as
        measurements; with instance labels (or their :attr:`outlines`) also its area in level-0 pixels
        (``area_px``, and as a measurement). ``outlines=True``: with instance labels, each cell's outline
        (:func:`~napari_cytoqa.detection.outlines.label_outlines`) instead of its box; an image too large
        to keep its labels gives the outlines kept instead. ``cell_expansion`` (pixels of the analysed
        level, > 0, with instance labels or outlines): QuPath ``cell`` objects instead — the nucleus
        grown by that much as the cell (:func:`~napari_cytoqa.detection.outlines.cell_outlines`, or
        :func:`~napari_cytoqa.detection.outlines.ring_cells` from the outlines), the nucleus outline as
        its ``nucleusGeometry``, and the cell's area as ``cell_area_px``."""
        feats = []
        areas = self.areas
        rings, cells = {}, {}
        if (outlines or cell_expansion > 0) and self.labels is not None:
            from .outlines import cell_outlines, label_outlines

            rings = label_outlines(self.labels, origin=self.origin, downsample=downsample)
            if cell_expansion > 0:
                cells = cell_outlines(self.labels, cell_expansion, origin=self.origin, downsample=downsample)
        elif (outlines or cell_expansion > 0) and self.outlines is not None:
            from .outlines import ring_cells

            rings = self.outlines.as_dict(downsample)
            if cell_expansion > 0:
                tb = np.asarray(self.tile_boxes, float).reshape(-1, 4)
                bounds = (*tb[:, :2].min(0), *tb[:, 2:].max(0)) if len(tb) else None
                cells = ring_cells(self.outlines, cell_expansion, bounds=bounds, downsample=downsample)
        for i, ((y0, x0, y1, x1), score, route, focus) in enumerate(zip(self.boxes * downsample, self.scores,
                                                                        self.route, self.focus)):
            ring = [[float(x0), float(y0)], [float(x1), float(y0)], [float(x1), float(y1)], [float(x0), float(y1)],
                    [float(x0), float(y0)]]
            if i + 1 in rings and len(rings[i + 1]) >= 3:  # label i + 1 is box i
                ring = [[float(x), float(y)] for y, x in rings[i + 1]]
                ring.append(ring[0])
            props = {"score": float(score), "route": str(route),
                     "focus": None if not np.isfinite(focus) else float(focus),
                     "detector": self.detector, "objectType": "detection",
                     # QuPath colours by classification and shows measurements: the route, the score
                     "classification": {"name": str(route).replace(f"cytoqa-{self.detector}-", "")},
                     "measurements": {"score": float(score)}}
            if np.isfinite(focus):
                props["measurements"]["focus"] = float(focus)
            if areas is not None:
                props["area_px"] = float(areas[i]) * float(downsample) ** 2
                props["measurements"]["area_px"] = props["area_px"]
            feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": props}
            if i + 1 in cells and len(cells[i + 1]) >= 3:  # a QuPath cell: the grown outline, the nucleus inside
                cell = [[float(x), float(y)] for y, x in cells[i + 1]]
                feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [cell + [cell[0]]]},
                           "nucleusGeometry": feature["geometry"], "properties": props | {"objectType": "cell"}}
                props["measurements"]["cell_area_px"] = _ring_area(cells[i + 1])
            feats.append(feature)
        return {"type": "FeatureCollection", "features": feats}

    def to_dataframe(self, pixel_size_um=None, *, downsample: float = 1.0):
        """One row per object: box, score, route, focus and detector; with instance labels also
        its area (``area_px``) and equivalent diameter (``diameter_px``) and, given the pixel size
        (µm, a number or ``(y, x)``), ``area_um2`` and ``diameter_um``. ``downsample``: level-0
        pixels per pixel of the analysed pyramid level; boxes, areas and diameters are given in
        level-0 pixels, ``pixel_size_um`` is that of level 0."""
        import pandas as pd

        b = self.boxes * downsample
        df = pd.DataFrame({"y0": b[:, 0], "x0": b[:, 1], "y1": b[:, 2], "x1": b[:, 3], "score": self.scores,
                           "route": self.route, "focus": self.focus, "detector": self.detector})
        areas = self.areas
        if areas is not None:
            df["area_px"] = areas * float(downsample) ** 2
            df["diameter_px"] = np.sqrt(4 * df["area_px"] / np.pi)
            if pixel_size_um is not None:
                py, px = np.broadcast_to(np.asarray(pixel_size_um, float), (2,))
                df["area_um2"] = df["area_px"] * py * px
                df["diameter_um"] = np.sqrt(4 * df["area_um2"] / np.pi)
        return df


def _ring_area(yx) -> float:
    """The area inside a ring of ``(y, x)`` vertices (the shoelace formula)."""
    y, x = np.asarray(yx, float).T
    return float(abs(x @ np.roll(y, -1) - y @ np.roll(x, -1)) / 2)
