"""A detection run against annotated cells (a QuPath GeoJSON, corrected boxes): AP@0.5, precision,
recall, F1 and count error on the user's own images (GUI-free; the detection widget's "compare
with" and ``cytoqa detect --truth``)."""
from __future__ import annotations

import numpy as np

from .metrics import DetectionScores, average_precision, count_ape, evaluate_detections, precision_recall_f1
from .region import inside_polygons, points_inside


def on_plane(at, plane: tuple, channel: int | None = None) -> bool:
    """Whether an annotation on plane ``at`` (``()``: every plane) belongs to ``plane`` of a stack.
    ``channel``: the position of the file's channel axis among its planes, where an annotation drawn
    on one channel layer in napari without that index (a hand-made layer) belongs to every channel."""
    at, plane = tuple(at), tuple(plane)
    if not at or at == plane:
        return True
    return channel is not None and len(at) == len(plane) - 1 and at == plane[:channel] + plane[channel + 1:]


def _areas(annotations, plane: tuple, channel: int | None = None):
    """The ``(y, x)`` rings of the rectangles and polygons of ``annotations`` on ``plane`` (:func:`on_plane`)."""
    return annotation_areas(annotations, plane=plane, channel=channel)[0]


def annotation_areas(annotations, *, plane: tuple = (), channel: int | None = None) -> tuple[list, list]:
    """``(rings, classes)``: the ``(y, x)`` rings (level-0 pixel edges) of the rectangles and
    polygons of ``annotations`` on ``plane`` (:func:`on_plane`), and each one's ``class`` (QuPath's
    classification; None without one)."""
    rings, classes = [], []
    for yx, kind, at, row in zip(annotations.shapes, annotations.shape_type, annotations.shape_planes,
                                 annotations.shape_properties):
        if kind not in ("line", "path") and on_plane(at, plane, channel):
            rings.append(np.asarray(yx, float))
            classes.append(row.get("class"))
    return rings, classes


def annotation_boxes(annotations, *, downsample: float = 1.0, plane: tuple = (), channel: int | None = None
                     ) -> np.ndarray:
    """``(N, 4)`` ``y0 x0 y1 x1`` boxes around the areas (rectangles, polygons) of
    :class:`~napari_cytoqa.io.geojson.Annotations` in level-0 pixel edges, divided by ``downsample``
    (level-0 pixels per analysed pixel); of a stack, those on ``plane`` and those with no plane
    (:func:`on_plane`, which ``channel`` is for). Lines, paths and points have no box and are left out."""
    boxes = [np.concatenate([v.min(axis=0), v.max(axis=0)]) / downsample
             for v in _areas(annotations, plane, channel)]
    return np.asarray(boxes, float).reshape(-1, 4)


def annotation_polygons(annotations, *, downsample: float = 1.0, plane: tuple = (), channel: int | None = None
                        ) -> list:
    """The rectangles and polygons of ``annotations`` (as :func:`annotation_boxes` picks them) as
    ``detect_cells(region=...)`` takes them: ``(k, 2)`` rings in pixels of the analysed level."""
    return [v / downsample for v in _areas(annotations, plane, channel)]


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
    truth = _truth_in(truth_boxes, region)
    return evaluate_detections([(det.boxes, det.scores)], [truth], score_threshold=0.0), len(truth)


def _truth_in(truth, region, points: bool = False) -> np.ndarray:
    """Annotated cells (boxes, or ``(y, x)`` points) as an array, those inside ``region`` where one is given."""
    truth = np.asarray(truth, float).reshape(-1, 2 if points else 4)
    polygons = _polygons(region)
    if polygons is not None and len(truth):
        truth = truth[(points_inside if points else inside_polygons)(truth, polygons)]
    return truth


def truth_errors(det, truth, *, region=None, points: bool = False):
    """The kinds of mistake (:class:`~napari_cytoqa.detection.errors.ErrorKinds`: cells split, boxes
    merged, extra, missed, loose) of ``det`` against the annotated cells that :func:`truth_scores`
    (or, with ``points``, :func:`point_scores`) compares it with."""
    from .errors import error_kinds

    truth = _truth_in(truth, region, points)
    return error_kinds(det.boxes, det.scores, **({"points": truth} if points else {"truth_boxes": truth}))


def label_boxes(labels) -> np.ndarray:
    """``(N, 4)`` ``y0 x0 y1 x1`` boxes (pixel edges, ``y1``/``x1`` past the last pixel) of the instances
    of a 2-D label image — a corrected Labels layer, a dataset's mask file. A mask with one value
    beside 0 (binary) is split into its connected components first."""
    from scipy.ndimage import find_objects, label

    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"a label image must be 2-D (one plane), got shape {labels.shape}")
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError("a label image holds whole numbers (instance labels), got fractional values")
        labels = labels.astype(np.int64)
    if labels.dtype.kind == "i" and labels.min(initial=0) < 0:
        raise ValueError("a label image holds labels 0 and up, got negative values")
    values = labels[labels != 0]
    if labels.dtype == bool or not values.size or values.min() == values.max():
        labels = label(labels != 0)[0]  # 4-connected components of a binary mask
    boxes = [(s[0].start, s[1].start, s[0].stop, s[1].stop) for s in find_objects(labels.astype(np.intp, copy=False))
             if s is not None]
    return np.asarray(boxes, float).reshape(-1, 4)


def annotation_points(annotations, *, downsample: float = 1.0, plane: tuple = (), channel: int | None = None
                      ) -> np.ndarray:
    """``(M, 2)`` ``(y, x)`` of the points of ``annotations`` (cells marked by a click, QuPath's point
    annotations) in pixels of the analysed level; of a stack, those on ``plane`` (:func:`on_plane`)."""
    pts = [np.asarray(p, float) / downsample for p, at in zip(annotations.points, annotations.point_planes)
           if on_plane(at, plane, channel)]
    return np.asarray(pts, float).reshape(-1, 2)


def point_scores(det, points, *, region=None) -> tuple[DetectionScores, int]:
    """``det`` scored against cells marked by points (``(M, 2)`` ``(y, x)``, pixels of the analysed
    level): a detection is right when an unclaimed point lies in its box, the nearest to its centre,
    greedy by decreasing score; AP over those flags (a point has no extent, so no IoU). With
    ``region`` only the points inside it count. Returns the scores and the number of points."""
    pts = _truth_in(points, region, points=True)
    boxes = np.asarray(det.boxes, float).reshape(-1, 4)
    scores = np.asarray(det.scores, float).reshape(-1)
    flags, taken = np.zeros(len(boxes), bool), np.zeros(len(pts), bool)
    y, x = (pts[:, 0], pts[:, 1]) if len(pts) else (np.zeros(0), np.zeros(0))
    for i in np.argsort(-scores, kind="stable"):
        y0, x0, y1, x1 = boxes[i]
        inside = ~taken & (y >= y0) & (y < y1) & (x >= x0) & (x < x1)
        if inside.any():
            cand = np.flatnonzero(inside)
            j = cand[np.argmin((y[cand] - (y0 + y1) / 2) ** 2 + (x[cand] - (x0 + x1) / 2) ** 2)]
            flags[i], taken[j] = True, True
    tp, fp, fn = int(flags.sum()), int((~flags).sum()), int(len(pts) - flags.sum())
    precision, recall, f1 = precision_recall_f1(tp, fp, fn)
    ape = count_ape(len(boxes), len(pts)) if len(pts) else float("nan")
    return DetectionScores(average_precision(flags, scores, len(pts)), precision, recall, f1, tp, fp, fn,
                           ape, count_ape(tp, len(pts)) if len(pts) else float("nan")), len(pts)


def score_row(scores: DetectionScores, n_truth: int, n_found: int, errors=None) -> dict:
    """The columns ``cytoqa detect --truth`` adds to summary.csv; with ``errors``
    (:class:`~napari_cytoqa.detection.errors.ErrorKinds`) the count of each kind of mistake too."""
    row = {"truth_cells": n_truth, "ap50": round(scores.ap50, 4), "precision": round(scores.precision, 4),
           "recall": round(scores.recall, 4), "f1": round(scores.f1, 4),
           "tp": scores.tp, "fp": scores.fp, "fn": scores.fn,  # to pool a batch: sum, then P = tp / (tp + fp)
           "count_ape": round(count_ape(n_found, n_truth), 4) if n_truth else None}
    if errors is not None:
        row |= {f"{k}_{'boxes' if k in ('merged', 'extra') else 'cells'}": v for k, v in errors.as_dict().items()}
    return row


def score_line(scores: DetectionScores, n_truth: int, errors=None) -> str:
    """``vs N annotated: AP@0.5 …, precision …, recall …, F1 …`` (the widget's count line); with
    ``errors``, ``; mistakes: 3 cells split, 2 extra`` and, where one kind dominates, a hint on the
    cell diameter (:func:`~napari_cytoqa.detection.errors.size_advice`)."""
    line = (f"vs {n_truth} annotated: AP@0.5 {scores.ap50:.2f}, precision {scores.precision:.2f}, "
            f"recall {scores.recall:.2f}, F1 {scores.f1:.2f}")
    if errors is not None:
        from .errors import mistakes_clause

        line += mistakes_clause(errors, n_truth)
    return line


def plane_scores(found, truth_of, *, region=None, points: bool = False):
    """Each plane of a :class:`~napari_cytoqa.detection.planes.PlaneDetections` against its annotated
    cells: ``truth_of(plane)`` gives that plane's boxes (:func:`truth_scores`) or, with ``points``, its
    points (:func:`point_scores`). A DataFrame, one row per plane: ``plane``, ``annotated``, ``ap50``
    and ``f1`` (NaN where none is annotated), ``tp``, ``fp``, ``fn`` and the mistakes by kind
    (:func:`truth_errors`: ``split``, ``merged``, ``extra``, ``missed``, ``loose``)."""
    import pandas as pd

    from ..stacks import plane_label

    score = point_scores if points else truth_scores
    rows = []
    for plane, det in found.detections.items():
        truth = truth_of(plane)
        scores, n = score(det, truth, region=region)
        rows.append({"plane": plane_label(plane), "annotated": n, "ap50": scores.ap50 if n else np.nan,
                     "f1": scores.f1 if n else np.nan, "tp": scores.tp, "fp": scores.fp, "fn": scores.fn,
                     **truth_errors(det, truth, region=region, points=points).as_dict()})
    return pd.DataFrame(rows)


def pooled_line(table) -> str | None:
    """``vs N annotated, pooled: precision …, recall …, F1 …; mistakes: …`` over :func:`plane_scores`'
    table (None when no plane has annotated cells), with the diameter hint of :func:`score_line`."""
    from .errors import ErrorKinds, mistakes_clause

    tp, fp, fn = (int(table[k].sum()) for k in ("tp", "fp", "fn"))
    if not tp + fn:
        return None
    precision, recall, f1 = precision_recall_f1(tp, fp, fn)
    line = f"vs {tp + fn} annotated, pooled: precision {precision:.2f}, recall {recall:.2f}, F1 {f1:.2f}"
    kinds = ErrorKinds(**{k: int(table[k].sum()) for k in ErrorKinds().as_dict()})
    return line + mistakes_clause(kinds, tp + fn)
