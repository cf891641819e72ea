"""What kind of mistakes a detection run made against annotated cells (GUI-free; the detection
widget's "compare with" line, ``cytoqa detect --truth`` and the evaluation scripts).

AP and F1 say how many cells were missed or invented, not why. Sorting the mistakes tells the
user what to change: cells cut into pieces mean the detector saw them too large for its trained
size (a larger ``diameter=`` helps), neighbours joined into one box mean the opposite, and
detections on no annotated cell are either false or cells the annotation left out.

A detection lies *on* an annotated cell when its centre lies in the cell's box (the cell whose box
overlaps it most where boxes of touching cells overlap) or, for cells marked by points, when the
point lies in the detection's box.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .metrics import _boxes, assign, box_iou


@dataclass(frozen=True)
class ErrorKinds:
    """The mistakes of one run (or several, summed with ``+``).

    ``split``: annotated cells with two or more detections on them, each on that cell alone (the
    cell cut into pieces, or found twice). ``merged``: detections on two or more annotated cells
    that match none of them. ``extra``: detections on no annotated cell. ``missed``: annotated
    cells with no detection on them. ``loose``: annotated cells whose only detection fits too
    badly to match (IoU under 0.5; never for points)."""

    split: int = 0
    merged: int = 0
    extra: int = 0
    missed: int = 0
    loose: int = 0

    def __add__(self, other: "ErrorKinds") -> "ErrorKinds":
        return ErrorKinds(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))

    def as_dict(self) -> dict:
        return asdict(self)


def error_kinds(boxes, scores, *, truth_boxes=None, points=None, iou: float = 0.5) -> ErrorKinds:
    """Sort the mistakes of detections ``boxes`` (``(N, 4)`` ``y0 x0 y1 x1``) with ``scores``
    against annotated cells given as ``truth_boxes`` (matched at ``iou``, as
    :func:`~napari_cytoqa.detection.metrics.match` does) or as ``points`` (``(M, 2)`` ``(y, x)``:
    a detection is right when its box holds the point, as
    :func:`~napari_cytoqa.detection.compare.point_scores` scores it). See :class:`ErrorKinds`."""
    if (truth_boxes is None) == (points is None):
        raise ValueError("give either truth_boxes or points (one of them)")
    boxes = _boxes(boxes)
    scores = np.asarray(scores, float).reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError("one score per detection is needed")
    if points is not None:
        return _point_kinds(boxes, np.asarray(points, float).reshape(-1, 2))
    truth = _boxes(truth_boxes)
    if not len(truth):
        return ErrorKinds(extra=len(boxes))
    if not len(boxes):
        return ErrorKinds(missed=len(truth))
    matched = assign(boxes, scores, truth, iou)  # the cell each detection matched, -1 for none
    tp = matched >= 0
    matched_cells = np.zeros(len(truth), bool)
    matched_cells[matched[tp]] = True
    overlap = box_iou(boxes, truth)
    cy, cx = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    centred = ((cy[:, None] >= truth[None, :, 0]) & (cy[:, None] < truth[None, :, 2])
               & (cx[:, None] >= truth[None, :, 1]) & (cx[:, None] < truth[None, :, 3]))
    owner = np.where(centred.any(1), np.argmax(np.where(centred, overlap, -1.0), 1), -1)  # the cell a box is on
    ty, tx = (truth[:, 0] + truth[:, 2]) / 2, (truth[:, 1] + truth[:, 3]) / 2
    holds = ((ty[None] >= boxes[:, None, 0]) & (ty[None] < boxes[:, None, 2])
             & (tx[None] >= boxes[:, None, 1]) & (tx[None] < boxes[:, None, 3]))  # (detections, cells' centres)
    merged = ~tp & (holds.sum(1) >= 2)
    on = owner >= 0
    per_cell = np.bincount(owner[on & ~merged], minlength=len(truth))
    merged_onto = holds[merged].any(0)
    split = per_cell >= 2
    lone = (per_cell == 1) & ~matched_cells & ~merged_onto
    missed = (per_cell == 0) & ~matched_cells & ~merged_onto
    return ErrorKinds(split=int(split.sum()), merged=int(merged.sum()), extra=int((~tp & ~on & ~merged).sum()),
                      missed=int(missed.sum()), loose=int(lone.sum()))


def _point_kinds(boxes, points) -> ErrorKinds:
    if not len(points):
        return ErrorKinds(extra=len(boxes))
    if not len(boxes):
        return ErrorKinds(missed=len(points))
    y, x = points[:, 0], points[:, 1]
    holds = ((y[None] >= boxes[:, None, 0]) & (y[None] < boxes[:, None, 2])
             & (x[None] >= boxes[:, None, 1]) & (x[None] < boxes[:, None, 3]))  # (detections, points)
    n_held = holds.sum(1)
    alone = n_held == 1  # detections on one cell each
    per_point = holds[alone].sum(0)
    return ErrorKinds(split=int((per_point >= 2).sum()), merged=int((n_held >= 2).sum()),
                      extra=int((n_held == 0).sum()), missed=int((~holds.any(0)).sum()))


def error_line(kinds: ErrorKinds) -> str:
    """``3 cells split, 1 merged box, 12 extra, 2 missed`` (kinds that occurred; ``no mistakes``)."""
    parts = [(kinds.split, "cell split", "cells split"), (kinds.merged, "merged box", "merged boxes"),
             (kinds.extra, "extra", "extra"), (kinds.missed, "missed", "missed"),
             (kinds.loose, "loose box", "loose boxes")]
    said = [f"{n} {one if n == 1 else many}" for n, one, many in parts if n]
    return ", ".join(said) if said else "no mistakes"


def size_advice(kinds: ErrorKinds, n_truth: int) -> str | None:
    """A hint on ``diameter=`` where one kind of mistake dominates: cells split (at least 3 and
    a tenth of the annotated cells, and twice the merged boxes) suggest the detector saw them
    too large, merged boxes (the same the other way round) too small. None otherwise."""
    floor = max(3, 0.1 * n_truth)
    if kinds.split >= floor and kinds.split >= 2 * kinds.merged:
        return "cells are cut into pieces: a larger cell diameter may help"
    if kinds.merged >= floor and kinds.merged >= 2 * kinds.split:
        return "neighbouring cells are joined: a smaller cell diameter may help"
    return None


def mistakes_clause(kinds: ErrorKinds, n_truth: int) -> str:
    """``; mistakes: 3 cells split, 2 extra``, with :func:`size_advice` in brackets where one kind
    dominates: what the widget's compare lines and ``cytoqa detect --truth`` append to their scores."""
    advice = size_advice(kinds, n_truth)
    return f"; mistakes: {error_line(kinds)}" + (f" ({advice})" if advice else "")


__all__ = ["ErrorKinds", "error_kinds", "error_line", "mistakes_clause", "size_advice"]
