"""Polygons from a GeoParquet file as an instance label image, without geopandas or shapely.

The geometry column is WKB (well-known binary); this reads Polygon and MultiPolygon records
(2-D, either byte order) and fills each exterior ring with ``skimage.draw.polygon`` (holes are
filled too: nuclei have none). Coordinates are ``x`` (column) and ``y`` (row) in pixels. Needs
``pyarrow`` to read the Parquet file (``pip install pyarrow``: an evaluation-only dependency).
"""
from __future__ import annotations

import struct

import numpy as np


def _rings(buf: bytes, pos: int = 0):
    """The exterior rings (N × 2 arrays of x, y) of one WKB geometry at ``pos``, and the end offset."""
    order = "<" if buf[pos] == 1 else ">"
    kind = struct.unpack_from(order + "I", buf, pos + 1)[0]
    pos += 5
    if kind == 3:  # Polygon: rings, each a point count and x, y doubles; the first ring is the exterior
        n_rings = struct.unpack_from(order + "I", buf, pos)[0]
        pos += 4
        rings = []
        for r in range(n_rings):
            n = struct.unpack_from(order + "I", buf, pos)[0]
            pts = np.frombuffer(buf, dtype=np.dtype(order + "f8"), count=2 * n, offset=pos + 4).reshape(n, 2)
            pos += 4 + 16 * n
            if r == 0:
                rings.append(pts)
        return rings, pos
    if kind == 6:  # MultiPolygon: a count, then whole WKB polygons
        n = struct.unpack_from(order + "I", buf, pos)[0]
        pos += 4
        rings = []
        for _ in range(n):
            part, pos = _rings(buf, pos)
            rings += part
        return rings, pos
    raise ValueError(f"WKB geometry type {kind} is not a polygon")


def read_polygons(path) -> tuple[list, list]:
    """Each record's exterior rings and its ``class_name`` (None where the file has no such column)."""
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise ImportError("reading GeoParquet needs pyarrow: pip install pyarrow") from err
    table = pq.read_table(path)
    geoms = table.column("geometry").to_pylist()
    names = table.column("class_name").to_pylist() if "class_name" in table.column_names else [None] * len(geoms)
    return [_rings(g)[0] for g in geoms], names


def rasterise(polygons, shape) -> np.ndarray:
    """Instance labels 1..N, one per record, in the order given (a later one overwrites overlaps)."""
    from skimage.draw import polygon

    labels = np.zeros(shape, np.int32)
    for i, rings in enumerate(polygons, start=1):
        for ring in rings:
            rr, cc = polygon(ring[:, 1], ring[:, 0], shape)
            labels[rr, cc] = i
    return labels
