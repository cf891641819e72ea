"""Stitch per-tile outputs back into one image with overlap blending."""
from __future__ import annotations

import numpy as np

from .._dtypes import cast_to
from .grid import TileGrid

BLENDS = ("linear", "mean", "none")


def blend_window(tile_size, overlap, *, kind: str = "linear") -> np.ndarray:
    """A ``(th, tw)`` weight window: 1 in the centre, ramping down over ``overlap`` pixels.

    Ramps never reach 0, so pixels covered by a single tile keep their value
    after normalisation.
    """
    th, tw = (int(v) for v in np.broadcast_to(tile_size, (2,)))
    oy, ox = (int(v) for v in np.broadcast_to(overlap, (2,)))

    def ramp(n, o):
        r = np.ones(n, dtype=np.float64)
        if kind == "linear" and o > 0:
            edge = (np.arange(min(o, n)) + 0.5) / o
            r[:len(edge)] = np.minimum(r[:len(edge)], edge)
            r[n - len(edge):] = np.minimum(r[n - len(edge):], edge[::-1])
        return r

    return np.outer(ramp(th, oy), ramp(tw, ox))


def stitch(outputs, grid: TileGrid, *, blend: str = "linear", dtype=None) -> np.ndarray:
    """Combine per-tile arrays (one per ``grid`` box, shaped like the tile or the padded tile).

    ``blend="linear"`` feathers overlaps with :func:`blend_window`, ``"mean"``
    averages them, ``"none"`` lets later tiles overwrite earlier ones.
    Returns an array of the grid's image shape plus any trailing channel axes.
    """
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {BLENDS}, got {blend!r}")
    overlap = np.maximum(np.subtract(grid.tile_size, grid.stride), 0)
    window = blend_window(grid.tile_size, overlap, kind="linear" if blend == "linear" else "flat")
    acc = wsum = None
    for box, out in zip(grid.boxes, outputs):
        out = np.asarray(out)
        y0, x0, y1, x1 = (int(v) for v in box)
        h, w = y1 - y0, x1 - x0
        if acc is None:
            acc = np.zeros(grid.shape + out.shape[2:], dtype=np.float64)
            wsum = np.zeros(grid.shape, dtype=np.float64)
            dtype = dtype or out.dtype
        part = out[:h, :w]
        if blend == "none":
            acc[y0:y1, x0:x1] = part
            wsum[y0:y1, x0:x1] = 1.0
            continue
        win = window[:h, :w]
        acc[y0:y1, x0:x1] += part * win.reshape(win.shape + (1,) * (part.ndim - 2))
        wsum[y0:y1, x0:x1] += win
    if acc is None:
        raise ValueError("no tile outputs to stitch")
    with np.errstate(invalid="ignore", divide="ignore"):
        result = acc / wsum.reshape(wsum.shape + (1,) * (acc.ndim - 2))
    return cast_to(result, dtype)
