"""Write images as tiled, pyramidal OME-TIFF (lazy levels are written tile by tile)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._files import atomic_write


def downsample2(image):
    """Halve ``(Y, X[, C])`` by 2×2 block means (numpy or dask); odd edges are trimmed."""
    h, w = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    view = image[:h, :w]
    if isinstance(view, np.ndarray):
        shaped = view.reshape(h // 2, 2, w // 2, 2, *view.shape[2:]).astype(np.float32)
        return np.rint(shaped.mean(axis=(1, 3))).astype(image.dtype)
    import dask.array as da

    axes = {0: 2, 1: 2}
    return da.coarsen(np.mean, view.astype(np.float32), axes, trim_excess=True).round().astype(image.dtype)


def build_pyramid(image, *, min_size: int = 256, max_levels: int = 10) -> list:
    """Levels from full resolution down until the short side would fall below ``min_size``."""
    levels = [image]
    while len(levels) < max_levels and min(levels[-1].shape[:2]) // 2 >= min_size:
        levels.append(downsample2(levels[-1]))
    return levels


def _tiles(level, tile: int):
    h, w = level.shape[:2]
    for y in range(0, h, tile):
        for x in range(0, w, tile):
            block = np.asarray(level[y:y + tile, x:x + tile])
            pad = [(0, tile - block.shape[0]), (0, tile - block.shape[1])] + [(0, 0)] * (block.ndim - 2)
            yield np.pad(block, pad) if any(p[1] for p in pad) else block


def write_pyramid(path, levels, *, pixel_size_um: float | None = None, tile: int = 256,
                  compression: str = "zlib", quality: int = 90) -> Path:
    """Write ``levels`` (full resolution first; numpy or dask) as a pyramidal OME-TIFF.

    ``compression="jpeg"`` needs 8-bit data. Levels become SubIFDs of the
    first page, which tifffile, QuPath and OpenSlide-style readers understand.
    """
    import tifffile

    path = Path(path)
    if not isinstance(levels, (list, tuple)):
        levels = build_pyramid(levels)
    first = levels[0]
    rgb = first.ndim == 3 and first.shape[-1] in (3, 4)
    options = dict(tile=(tile, tile), photometric="rgb" if rgb else "minisblack",
                   compression=compression)
    if compression == "jpeg":
        options["compressionargs"] = {"level": quality}
    metadata = {"axes": "YXS" if rgb else "YX"}
    if pixel_size_um:
        metadata.update(PhysicalSizeX=pixel_size_um, PhysicalSizeY=pixel_size_um,
                        PhysicalSizeXUnit="µm", PhysicalSizeYUnit="µm")

    def write(tmp):
        with tifffile.TiffWriter(tmp, bigtiff=True, ome=True) as tw:
            for i, level in enumerate(levels):
                extra = {"subifds": len(levels) - 1, "metadata": metadata} if i == 0 else {"subfiletype": 1}
                if pixel_size_um:
                    down = first.shape[0] / level.shape[0]
                    per_cm = 1e4 / (pixel_size_um * down)
                    extra.update(resolution=(per_cm, per_cm), resolutionunit="CENTIMETER")
                tw.write(_tiles(level, tile), shape=level.shape, dtype=level.dtype, **options, **extra)

    return atomic_write(path, write)  # a failed write (a disk full, bad data) leaves no partial file
