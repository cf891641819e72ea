"""Tile grids over 2-D images of any size, at any pyramid level.

Edge strategies (seed 000 and what later stitching needs):

``"drop"``
    only whole tiles; a partial strip at the bottom/right edge is left out.
``"pad"``
    the grid covers the image; edge tiles are clipped to the image and, when
    read with ``pad=True``, filled with zeros up to the tile size. Their
    ``fraction`` (real pixels / tile pixels) is the seed's size weight.
``"shift"``
    the grid covers the image with whole tiles; the last row/column is shifted
    inward so it ends at the image border (overlapping its neighbour).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EDGES = ("drop", "pad", "shift")


def _pair(value, name) -> tuple[int, int]:
    pair = tuple(int(v) for v in np.broadcast_to(np.asarray(value), (2,)))
    if min(pair) < 1:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return pair


def _starts(n: int, t: int, s: int, edge: str) -> list[int]:
    if n >= t:
        starts = list(range(0, n - t + 1, s))
    elif edge == "drop":
        return []
    else:
        return [0]
    if edge != "drop" and starts[-1] + t < n:
        starts.append(starts[-1] + s if edge == "pad" else n - t)
    return starts


@dataclass(frozen=True)
class TileGrid:
    """Tiles of one image: ``boxes[i] = (y0, x0, y1, x1)``, clipped to the image.

    ``rows``/``cols`` give each tile's grid position; ``fraction`` the share of
    the nominal tile area that lies inside the image.
    """

    shape: tuple[int, int]
    tile_size: tuple[int, int]
    stride: tuple[int, int]
    edge: str
    boxes: np.ndarray
    rows: np.ndarray
    cols: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)

    @property
    def n_rows(self) -> int:
        return int(self.rows.max()) + 1 if len(self) else 0

    @property
    def n_cols(self) -> int:
        return int(self.cols.max()) + 1 if len(self) else 0

    @property
    def fraction(self) -> np.ndarray:
        h = self.boxes[:, 2] - self.boxes[:, 0]
        w = self.boxes[:, 3] - self.boxes[:, 1]
        return (h * w) / float(self.tile_size[0] * self.tile_size[1])

    def scaled(self, factor) -> np.ndarray:
        """Boxes multiplied by ``factor`` (e.g. a pyramid level's downsample), as floats."""
        fy, fx = np.broadcast_to(np.asarray(factor, dtype=float), (2,))
        return self.boxes * np.array([fy, fx, fy, fx])


def tile_grid(shape, tile_size, *, stride=None, edge: str = "pad") -> TileGrid:
    """Tile an image of ``shape`` (the first two entries are used: Y, X).

    Parameters
    ----------
    shape : tuple
        Image shape; only ``shape[:2]`` matters.
    tile_size : int or (int, int)
        Tile height and width in pixels.
    stride : int or (int, int), optional
        Step between tile origins; defaults to ``tile_size`` (no overlap).
    edge : {"drop", "pad", "shift"}
        What to do at the bottom/right border (see module docstring).

    Examples
    --------
    >>> g = tile_grid((1000, 700), 500, edge="drop")
    >>> g.boxes.tolist()
    [[0, 0, 500, 500], [500, 0, 1000, 500]]
    """
    if edge not in EDGES:
        raise ValueError(f"edge must be one of {EDGES}, got {edge!r}")
    h, w = int(shape[0]), int(shape[1])
    if h < 1 or w < 1:
        raise ValueError(f"cannot tile an empty image of shape {tuple(shape)}")
    th, tw = _pair(tile_size, "tile_size")
    sy, sx = _pair(stride if stride is not None else (th, tw), "stride")
    ys, xs = _starts(h, th, sy, edge), _starts(w, tw, sx, edge)
    rr, cc = np.meshgrid(np.arange(len(ys)), np.arange(len(xs)), indexing="ij")
    y0 = np.asarray(ys, dtype=np.int64)[rr.ravel()] if ys else np.zeros(0, np.int64)
    x0 = np.asarray(xs, dtype=np.int64)[cc.ravel()] if xs else np.zeros(0, np.int64)
    boxes = np.stack([y0, x0, np.minimum(y0 + th, h), np.minimum(x0 + tw, w)], axis=1)
    return TileGrid((h, w), (th, tw), (sy, sx), edge, boxes.reshape(-1, 4),
                    rr.ravel().astype(np.int64), cc.ravel().astype(np.int64))


def read_tile(array, box, *, tile_size=None, pad: bool = False) -> np.ndarray:
    """Read one tile of a (lazy) array as numpy; zero-pad to ``tile_size`` if ``pad``."""
    y0, x0, y1, x1 = (int(v) for v in box)
    tile = np.asarray(array[y0:y1, x0:x1])
    if pad and tile_size is not None:
        th, tw = _pair(tile_size, "tile_size")
        extra = [(0, th - tile.shape[0]), (0, tw - tile.shape[1])] + [(0, 0)] * (tile.ndim - 2)
        if any(e[1] for e in extra):
            tile = np.pad(tile, extra)
    return tile


def values_to_grid(grid: TileGrid, values, fill=np.nan) -> np.ndarray:
    """Arrange one value per tile into a ``(n_rows, n_cols[, ...])`` array."""
    values = np.asarray(values)
    out = np.full((grid.n_rows, grid.n_cols) + values.shape[1:], fill,
                  dtype=np.result_type(values.dtype, np.asarray(fill).dtype))
    out[grid.rows, grid.cols] = values
    return out
