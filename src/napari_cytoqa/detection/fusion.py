"""Test-time augmentation (``detect_cells(..., tta=True)``): mirror-image views of a tile, and
weighted box fusion (Solovyev et al. 2021) of the boxes found in them.

:func:`mirror_views` gives a tile and its left-right, up-down and both-ways mirror images, each
padded as a plain input would be; the U-Net averages its maps over them, YOLO fuses its boxes:
boxes of different views that overlap (IoU ≥ ``iou``) with a cluster's fused box join it, the
fused box is the score-weighted mean of its members and its score the members' summed score over
the number of views — a box found in one view of four keeps a quarter of its score, so what only
one view saw ranks below what every view agrees on.
"""
from __future__ import annotations

import numpy as np

from .metrics import box_iou

#: the axes of a ``(C, H, W)`` tile each view mirrors: none, W, H, both
MIRRORS = ((), (2,), (1,), (1, 2))


def mirror_views(x: np.ndarray, multiple: int, flips: bool = True) -> tuple[list[np.ndarray], tuple]:
    """``(views, axes)``: ``x`` (``(C, H, W)``) and, with ``flips``, its three mirror images, each
    padded at the bottom and right to multiples of ``multiple`` (reflected, or repeated where the
    tile is too small to reflect); ``axes`` are the :data:`MIRRORS` that made them (``np.flip`` of a
    view's output over the same axes mirrors it back)."""
    axes = MIRRORS if flips else MIRRORS[:1]
    views = [np.flip(x, a) if a else x for a in axes]
    _, h, w = x.shape
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if min(h, w) > max(ph, pw) else "edge"
        views = [np.pad(v, ((0, 0), (0, ph), (0, pw)), mode=mode) for v in views]
    return views, axes


def weighted_box_fusion(boxes, scores, views, n_views: int, *, iou: float = 0.55,
                        min_views: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Fuse ``(N, 4)`` boxes (any consistent corner order, e.g. ``y0 x0 y1 x1``) with their
    ``scores`` and the index of the view each came from; returns fused boxes and scores, best
    first. A cluster takes at most one box per view (a second box of the same view starts or
    joins another cluster), boxes are visited from the highest score down; clusters with boxes
    from fewer than ``min_views`` views are dropped."""
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    scores = np.asarray(scores, float).reshape(-1)
    views = np.asarray(views, int).reshape(-1)
    if not (len(boxes) == len(scores) == len(views)):
        raise ValueError("boxes, scores and views must have one entry per box")
    if n_views < 1 or (len(views) and (views.min() < 0 or views.max() >= n_views)):
        raise ValueError(f"views must lie in 0..{n_views - 1}")
    if not 1 <= min_views <= n_views:
        raise ValueError(f"min_views must lie in 1..{n_views}")
    if not len(boxes):
        return np.zeros((0, 4)), np.zeros(0)
    fused = np.zeros((len(boxes), 4))   # per cluster: score-weighted box
    weight = np.zeros(len(boxes))       # per cluster: summed score
    seen = np.zeros((len(boxes), n_views), bool)
    n = 0
    for i in np.argsort(-scores, kind="stable"):
        j = -1
        if n:
            overlap = box_iou(boxes[i:i + 1], fused[:n])[0]
            overlap[seen[:n, views[i]]] = -1  # one box per view and cluster
            j = int(np.argmax(overlap)) if overlap.max() >= iou else -1
        if j < 0:
            j, n = n, n + 1
        fused[j] = (fused[j] * weight[j] + boxes[i] * scores[i]) / (weight[j] + scores[i])
        weight[j] += scores[i]
        seen[j, views[i]] = True
    order = np.argsort(-weight[:n], kind="stable")
    order = order[seen[:n][order].sum(1) >= min_views]
    return fused[:n][order], weight[:n][order] / n_views


__all__ = ["MIRRORS", "mirror_views", "weighted_box_fusion"]
