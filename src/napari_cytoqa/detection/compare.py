"""A detection run against annotated cells (a QuPath GeoJSON, corrected boxes): AP@0.5, precision,
recall, F1 and count error on the user's own images (GUI-free; the detection widget's "compare
with" and ``cytoqa detect --truth``)."""
from __future__ import annotations

import numpy as np

from .metrics import DetectionScores, count_ape, evaluate_detections
from .region import inside_polygons


def _areas(annotations, plane: tuple):
    """The ``(y, x)`` rings of the rectangles and polygons of ``annotations`` on ``plane`` or on none."""
    for yx, kind, at in zip(annotations.shapes, annotations.shape_type, annotations.shape_planes):
        if kind not in ("line", "path") and (not at or tuple(at) == tuple(plane)):
            yield np.asarray(yx, float)


def annotation_boxes(annotations, *, downsample: float = 1.0, plane: tuple = ()) -> np.ndarray:
    """``(N, 4)`` ``y0 x0 y1 x1`` boxes around the areas (rectangles, polygons) of
    :class:`~napari_cytoqa.io.geojson.Annotations` in level-0 pixel edges, divided by ``downsample``
    (level-0 pixels per analysed pixel); of a stack, those on ``plane`` and those with no plane.
    Lines, paths and points have no box and are left out."""
    boxes = [np.concatenate([v.min(axis=0), v.max(axis=0)]) / downsample for v in _areas(annotations, plane)]
    return np.asarray(boxes, float).reshape(-1, 4)


def annotation_polygons(annotations, *, downsample: float = 1.0, plane: tuple = ()) -> list:
    """The rectangles and polygons of ``annotations`` (as :func:`annotation_boxes` picks them) as
    ``detect_cells(region=...)`` takes them: ``(k, 2)`` rings in pixels of the analysed level."""
    return [v / downsample for v in _areas(annotations, plane)]


def _polygons(region):
    if region is None:
        return None
    if isinstance(region, tuple) and len(region) == 4 and np.isscalar(region[0]):  # a box y0 x0 y1 x1
        y0, x0, y1, x1 = map(float, region)
        return [np.array([[y0, x0], [y0, x1], [y1, x1], [y1, x0]])]
    return [np.asarray(p, float) for p in region]


def truth_scores(det, truth_boxes, *, region=None) -> tuple[DetectionScores, int]:
    """``det`` (:class:`~napari_cytoqa.detection.Detections`) scored against ``truth_boxes`` (pixels
    of the analysed level) at IoU 0.5, every object the run kept counted; with ``region`` (what
    ``detect_cells(region=...)`` took: a box or polygons) only the annotated cells centred inside it.
    Returns the scores and the number of annotated cells compared with."""
    truth = np.asarray(truth_boxes, float).reshape(-1, 4)
    polygons = _polygons(region)
    if polygons is not None and len(truth):
        truth = truth[inside_polygons(truth, polygons)]
    return evaluate_detections([(det.boxes, det.scores)], [truth], score_threshold=0.0), len(truth)


def score_row(scores: DetectionScores, n_truth: int, n_found: int) -> dict:
    """The columns ``cytoqa detect --truth`` adds to summary.csv."""
    return {"truth_cells": n_truth, "ap50": round(scores.ap50, 4), "precision": round(scores.precision, 4),
            "recall": round(scores.recall, 4), "f1": round(scores.f1, 4),
            "tp": scores.tp, "fp": scores.fp, "fn": scores.fn,  # to pool a batch: sum, then P = tp / (tp + fp)
            "count_ape": round(count_ape(n_found, n_truth), 4) if n_truth else None}


def score_line(scores: DetectionScores, n_truth: int) -> str:
    """``vs N annotated: AP@0.5 …, precision …, recall …, F1 …`` (the widget's count line)."""
    return (f"vs {n_truth} annotated: AP@0.5 {scores.ap50:.2f}, precision {scores.precision:.2f}, "
            f"recall {scores.recall:.2f}, F1 {scores.f1:.2f}")


def plane_scores(found, truth_of, *, region=None):
    """Each plane of a :class:`~napari_cytoqa.detection.planes.PlaneDetections` against its annotated
    cells: ``truth_of(plane)`` gives that plane's boxes. A DataFrame, one row per plane: ``plane``,
    ``annotated``, ``ap50`` and ``f1`` (NaN where none is annotated), ``tp``, ``fp``, ``fn``."""
    import pandas as pd

    from ..stacks import plane_label

    rows = []
    for plane, det in found.detections.items():
        scores, n = truth_scores(det, truth_of(plane), region=region)
        rows.append({"plane": plane_label(plane), "annotated": n, "ap50": scores.ap50 if n else np.nan,
                     "f1": scores.f1 if n else np.nan, "tp": scores.tp, "fp": scores.fp, "fn": scores.fn})
    return pd.DataFrame(rows)


def pooled_line(table) -> str | None:
    """``vs N annotated, pooled: precision …, recall …, F1 …`` over :func:`plane_scores`' table (None
    when no plane has annotated cells)."""
    tp, fp, fn = (int(table[k].sum()) for k in ("tp", "fp", "fn"))
    if not tp + fn:
        return None
    return (f"vs {tp + fn} annotated, pooled: precision {tp / max(tp + fp, 1):.2f}, recall {tp / (tp + fn):.2f}, "
            f"F1 {2 * tp / (2 * tp + fp + fn):.2f}")
