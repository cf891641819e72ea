"""Running a detector on tiles resampled so that cells reach the size the models were trained at
(``detect_cells(diameter=...)``), with boxes and labels brought back to the tile's pixels (GUI-free)."""
from __future__ import annotations

import numpy as np

from .instances import boxes_from_labels


def rescaled(run, scale: float):
    """Wrap a detector so it sees tiles resampled by ``scale`` (cells brought to the size the
    models were trained at; ``raw``, the tile as it is where ``tile`` renders it, alike); boxes
    and labels come back in the tile's own pixels."""
    if scale == 1.0:
        return run
    from skimage.transform import resize

    def call(tile, raw=None):
        h, w = tile.shape[:2]
        hs, ws = max(1, round(h * scale)), max(1, round(w * scale))

        def small(t):
            t = t.astype(np.float32) if t.dtype == bool else t  # resize refuses to smooth booleans
            return resize(t, (hs, ws, *t.shape[2:]), order=1, preserve_range=True,
                          anti_aliasing=scale < 1).astype(np.float32)

        labels, boxes, scores, route, focus = run(small(tile), None if raw is None else small(raw))
        boxes = np.asarray(boxes, float).reshape(-1, 4) * [h / hs, w / ws, h / hs, w / ws]
        if labels is not None:  # nearest-neighbour back to the tile's grid
            rows = np.minimum(((np.arange(h) + 0.5) * hs / h).astype(int), hs - 1)
            cols = np.minimum(((np.arange(w) + 0.5) * ws / w).astype(int), ws - 1)
            labels = labels[rows[:, None], cols[None, :]]
            kept = np.unique(labels)
            kept = kept[kept > 0]
            if len(kept) < len(boxes):  # an object smaller than a pixel of the coarser grid vanished
                lut = np.zeros(int(labels.max()) + 1 if labels.size else 1, labels.dtype)
                lut[kept] = np.arange(1, len(kept) + 1)
                labels, scores = lut[labels], np.asarray(scores)[kept - 1]
            boxes = boxes_from_labels(labels)
        return labels, boxes, scores, route, focus

    return call
