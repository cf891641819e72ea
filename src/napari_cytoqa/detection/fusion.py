"""Weighted box fusion (Solovyev et al. 2021) of boxes from several views of one image.

YOLO's test-time augmentation (``detect_cells(..., detector="yolo", tta=True)``) runs a tile and
its mirror images; each view's boxes, mirrored back, are fused here: boxes of different views
that overlap (IoU ≥ ``iou``) with a cluster's fused box join it, the fused box is the
score-weighted mean of its members and its score the members' summed score over the number of
views — a box found in one view of four keeps a quarter of its score, so what only one view saw
ranks below what every view agrees on.
"""
from __future__ import annotations

import numpy as np


def _iou_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    y0 = np.maximum(box[0], boxes[:, 0])
    x0 = np.maximum(box[1], boxes[:, 1])
    y1 = np.minimum(box[2], boxes[:, 2])
    x1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(y1 - y0, 0, None) * np.clip(x1 - x0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def weighted_box_fusion(boxes, scores, views, n_views: int, *, iou: float = 0.55) -> tuple[np.ndarray, np.ndarray]:
    """Fuse ``(N, 4)`` boxes (any consistent corner order, e.g. ``y0 x0 y1 x1``) with their
    ``scores`` and the index of the view each came from; returns fused boxes and scores, best
    first. A cluster takes at most one box per view (a second box of the same view starts or
    joins another cluster), boxes are visited from the highest score down."""
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    scores = np.asarray(scores, float).reshape(-1)
    views = np.asarray(views, int).reshape(-1)
    if not (len(boxes) == len(scores) == len(views)):
        raise ValueError("boxes, scores and views must have one entry per box")
    if n_views < 1 or (len(views) and (views.min() < 0 or views.max() >= n_views)):
        raise ValueError(f"views must lie in 0..{n_views - 1}")
    if not len(boxes):
        return np.zeros((0, 4)), np.zeros(0)
    fused = np.zeros((len(boxes), 4))   # per cluster: score-weighted box
    weight = np.zeros(len(boxes))       # per cluster: summed score
    seen = np.zeros((len(boxes), n_views), bool)
    n = 0
    for i in np.argsort(-scores, kind="stable"):
        j = -1
        if n:
            overlap = _iou_one(boxes[i], fused[:n])
            overlap[seen[:n, views[i]]] = -1  # one box per view and cluster
            j = int(np.argmax(overlap)) if overlap.max() >= iou else -1
        if j < 0:
            j, n = n, n + 1
        fused[j] = (fused[j] * weight[j] + boxes[i] * scores[i]) / (weight[j] + scores[i])
        weight[j] += scores[i]
        seen[j, views[i]] = True
    order = np.argsort(-weight[:n], kind="stable")
    return fused[:n][order], weight[:n][order] / n_views


__all__ = ["weighted_box_fusion"]
