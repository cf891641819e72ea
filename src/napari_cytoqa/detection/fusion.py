"""Test-time augmentation (``detect_cells(..., tta=True)``): mirror-image views of a tile, and
weighted box fusion (Solovyev et al. 2021) of the boxes found in them.

:func:`mirror_views` gives a tile and its left-right, up-down and both-ways mirror images, each
padded as a plain input would be; the U-Net averages its maps over them, YOLO fuses its boxes:
boxes of different views that overlap (IoU ≥ ``iou``) with a cluster's fused box join it, the
fused box is the score-weighted mean of its members and its score the members' summed score over
the number of views — a box found in one view of four keeps a quarter of its score, so what only
one view saw ranks below what every view agrees on (YOLO keeps the boxes at least two views
found: ``min_views``, rule TY2).
"""
from __future__ import annotations

import numpy as np

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
    fused, weight, seen = _clusters(boxes, scores, views, n_views, iou)
    fused, weight, seen = np.array(fused, float).reshape(-1, 4), np.array(weight), np.array(seen, bool)
    order = np.argsort(-weight, kind="stable")
    order = order[seen[order].sum(1) >= min_views]
    return fused[order], weight[order] / n_views


def _iou(a, b) -> float:
    """IoU of two boxes, the arithmetic of :func:`.metrics.box_iou` on Python floats."""
    inter = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0) * max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _clusters(boxes, scores, views, n_views, iou):
    """The greedy clustering of :func:`weighted_box_fusion`: per cluster its fused box, summed
    score and the views it holds. Each box is compared only with the clusters whose centre lies in
    its own or a neighbouring cell of a grid as coarse as the largest box: a fused box (a weighted
    mean of its members) is never larger than that, so every cluster it could overlap is there."""
    size = max(float(np.max(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]))), 1.0)
    fused, weight, seen, grid = [], [], [], {}  # grid: cell -> the clusters whose centre lies in it

    def cell(b):
        return int((b[0] + b[2]) / 2 // size), int((b[1] + b[3]) / 2 // size)

    for i in np.argsort(-scores, kind="stable"):
        b, sc, v = boxes[i].tolist(), float(scores[i]), int(views[i])
        if iou > 0:
            cy, cx = cell(b)
            near = [j for dy in (-1, 0, 1) for dx in (-1, 0, 1) for j in grid.get((cy + dy, cx + dx), ())]
        else:  # every cluster overlaps "enough"
            near = range(len(fused))
        j, best = -1, -1.0
        for c in sorted(near):  # the lowest index wins a tie, as np.argmax would
            if not seen[c][v]:
                o = _iou(b, fused[c])
                if o > best:
                    j, best = c, o
        if j < 0 or best < iou:  # a new cluster
            j, old = len(fused), None
            fused.append([0.0] * 4)
            weight.append(0.0)
            seen.append([False] * n_views)
        else:
            old = cell(fused[j])
        w = weight[j]
        fused[j] = [(f * w + x * sc) / (w + sc) for f, x in zip(fused[j], b)]
        weight[j] = w + sc
        seen[j][v] = True
        new = cell(fused[j])
        if new != old:
            if old is not None:
                grid[old].remove(j)
            grid.setdefault(new, []).append(j)
    return fused, weight, seen


__all__ = ["MIRRORS", "mirror_views", "weighted_box_fusion"]
