"""Merging per-tile detections of overlapping tiles into one result without duplicates or cut cells.

Tiles overlap by more than the largest object, so every object lies whole inside at least one
tile. Each object is kept only from the tile that *owns* its centre: the tile whose centre is
nearest (for a rectilinear grid these cells are rectangles splitting every overlap down the
middle). An object cut by a tile border has its centre near that border, which lies in the
neighbour's half of the overlap — where the neighbour sees it whole. A final non-maximum
suppression catches the rare object whose two tiles disagree about its centre.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .size import is_number


def _tile_centres(tile_boxes) -> tuple[np.ndarray, np.ndarray]:
    tb = np.asarray(tile_boxes, dtype=np.float64)
    return (tb[:, 0] + tb[:, 2]) / 2, (tb[:, 1] + tb[:, 3]) / 2


def owner_of(points, tile_boxes) -> np.ndarray:
    """Index of the tile owning each ``(y, x)`` point (nearest tile centre; ties → lower index)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    cy, cx = _tile_centres(tile_boxes)
    out = np.empty(len(pts), np.int64)
    step = max(1, 4_000_000 // max(len(cy), 1))  # bounded memory on whole slides (many points × tiles)
    for s in range(0, len(pts), step):
        p = pts[s:s + step]
        out[s:s + step] = np.argmin((p[:, None, 0] - cy[None]) ** 2 + (p[:, None, 1] - cx[None]) ** 2, axis=1)
    return out


def box_centres(boxes) -> np.ndarray:
    """``(N, 2)`` centres ``(y, x)`` of ``y0 x0 y1 x1`` boxes (half-open: in slicing coordinates)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)


def box_owners(boxes, tile_boxes) -> np.ndarray:
    """Index of the tile owning each ``y0 x0 y1 x1`` box: :func:`owner_of` its centre (empty for none)."""
    return owner_of(box_centres(boxes), tile_boxes)


#: ``overlap="auto"``: the overlap of neighbouring tiles in px, unless cells are larger ...
DEFAULT_OVERLAP = 64
#: ... when it holds this many cell diameters (:mod:`.merge` needs every cell whole in some tile)
OVERLAP_DIAMETERS = 1.5


def tiling_for(diameter, tile_size: int, overlap: int | str = "auto") -> tuple[int, int]:
    """``(tile_size, overlap)`` in the image's pixels for cells of ``diameter`` px (None: unknown).
    ``overlap="auto"``: :data:`DEFAULT_OVERLAP`, or :data:`OVERLAP_DIAMETERS` cell diameters where
    that is more, and then a tile of at least three overlaps, so that every cell lies whole in some
    tile; an ``overlap`` in pixels is used as given."""
    if isinstance(overlap, str):
        if overlap != "auto":
            raise ValueError(f'overlap must be a number of pixels or "auto", got {overlap!r}')
        need = 0 if diameter is None else int(np.ceil(OVERLAP_DIAMETERS * float(diameter)))
        if need <= DEFAULT_OVERLAP:
            return tile_size, DEFAULT_OVERLAP
        return max(tile_size, 3 * need), need
    if not (is_number(overlap) and overlap >= 0):
        raise ValueError(f'overlap must be a number of pixels >= 0 or "auto", got {overlap!r}')
    return tile_size, int(round(overlap))


def nms(boxes, scores, iou: float = 0.5) -> np.ndarray:
    """Indices (ascending) kept by greedy non-maximum suppression, highest score first: a box is
    dropped when its IoU with a kept, higher-scoring box exceeds ``iou`` (torchvision's kernel —
    the pure-Python loop took 7 s for the 6,400 cells of one 2592 × 1944 smear)."""
    from .._triton import avoid_triton_in_gui

    avoid_triton_in_gui()  # torchvision.ops reaches triton, which crashes beside napari's OpenGL
    import torch
    from torchvision.ops import nms as _nms

    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if not len(boxes):
        return np.zeros(0, np.int64)
    # torchvision takes x0 y0 x1 y1; IoU is symmetric in the axes, so y0 x0 y1 x1 works as is
    keep = _nms(torch.as_tensor(boxes), torch.as_tensor(scores), float(iou)).numpy()
    return np.sort(keep).astype(np.int64)


def merge_boxes(per_tile, tile_boxes, *, iou: float = 0.5, index: bool = False, owned=None):
    """``per_tile``: one ``(boxes, scores)`` per tile, boxes in **image** coordinates. Returns
    ``(boxes, scores, tile_index)`` of the kept detections; ``index=True``: also each one's index
    among its tile's boxes. ``owned``: per tile, which of its boxes it owns (``box_owners(boxes,
    tile_boxes) == t``) where the caller has worked it out already; else it is worked out here."""
    boxes, scores, tiles, local = [], [], [], []
    for t, (b, s) in enumerate(per_tile):
        b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
        if not len(b):
            continue
        own = box_owners(b, tile_boxes) == t if owned is None else np.asarray(owned[t], bool)
        boxes.append(b[own])
        scores.append(np.asarray(s, dtype=np.float64).reshape(-1)[own])
        tiles.append(np.full(int(own.sum()), t))
        local.append(np.flatnonzero(own))
    if not boxes:
        none = np.zeros(0, np.int64)
        return (np.zeros((0, 4)), np.zeros(0), none) + ((none,) if index else ())
    boxes, scores, tiles, local = map(np.concatenate, (boxes, scores, tiles, local))
    keep = nms(boxes, scores, iou)
    return (boxes[keep], scores[keep], tiles[keep]) + ((local[keep],) if index else ())


def merge_labels(per_tile, tile_boxes, image_shape, scores=None):
    """``per_tile``: one instance-label array per tile (tile coordinates, same order as
    ``tile_boxes``). Every instance is pasted from the tile owning its centroid; instances
    are renumbered 1..N (int32); where two owned instances overlap the first keeps the pixels.
    With ``scores`` (one array per tile, score of local label ``i`` at index ``i - 1``) returns
    ``(labels, scores)`` with the scores of the merged instances in label order."""
    out = np.zeros(tuple(image_shape[:2]), np.int32)
    kept_scores = [np.nan]  # index = global id
    next_id = 1
    for t, (labels, box) in enumerate(zip(per_tile, np.asarray(tile_boxes))):
        labels = np.asarray(labels)
        n = int(labels.max()) if labels.size else 0
        if n == 0:
            continue
        y0, x0 = int(box[0]), int(box[1])
        h, w = min(labels.shape[0], out.shape[0] - y0), min(labels.shape[1], out.shape[1] - x0)
        labels = labels[:h, :w]
        ids = np.unique(labels[labels > 0])
        if not len(ids):
            continue
        cents = np.array(ndi.center_of_mass(labels > 0, labels, ids)) + [y0, x0]
        owned = ids[owner_of(cents, tile_boxes) == t]
        if not len(owned):
            continue
        lut = np.zeros(n + 1, np.int32)
        lut[owned] = np.arange(next_id, next_id + len(owned))
        next_id += len(owned)
        if scores is not None:
            kept_scores.extend(np.asarray(scores[t], dtype=np.float64)[owned - 1])
        new = lut[labels]
        region = out[y0:y0 + h, x0:x0 + w]
        free = (region == 0) & (new > 0)
        region[free] = new[free]
    if scores is None:
        return _renumber(out)
    ids = np.unique(out)
    ids = ids[ids > 0]
    return _renumber(out), np.asarray(kept_scores, dtype=np.float64)[ids]


def _renumber(labels: np.ndarray) -> np.ndarray:
    ids = np.unique(labels)
    ids = ids[ids > 0]
    lut = np.zeros(int(labels.max()) + 1, np.int32)
    lut[ids] = np.arange(1, len(ids) + 1)
    return lut[labels]
