"""Stacks (Z, time, channels): their planes, one axis's series, and running a job on each plane (no Qt).

Used by :func:`~napari_cytoqa.quality.planes.assess_planes` (a focus series' sharpest plane) and
:func:`~napari_cytoqa.detection.planes.detect_planes` (counts per plane of a time-lapse).
"""
from __future__ import annotations

from itertools import product
from pathlib import Path

import numpy as np


def plane_label(plane) -> str:
    """How a plane is named in tables and on the command line: its indices joined by ``-``."""
    return "-".join(str(int(i)) for i in plane)


def plane_levels(levels, plane: tuple = ()) -> list:
    """The 2-D plane at ``plane`` (indices on the axes before Y and X) of every level of a pyramid
    whose levels keep the stack's leading axes (lazy for dask/zarr). A level that also downsampled
    the leading axes gets the matching index there."""
    levels = list(levels)
    if not plane:
        return levels
    full = levels[0].shape[:len(plane)]
    return [lvl[tuple(min(p * n // f, n - 1) for p, n, f in zip(plane, lvl.shape, full))] for lvl in levels]


def _is_slide(image) -> bool:
    return hasattr(image, "levels") and hasattr(image, "plane") and hasattr(image, "planes")


def _as_levels(image) -> list:
    if isinstance(image, (list, tuple)) and image and hasattr(image[0], "shape"):
        return list(image)
    return [image if hasattr(image, "shape") else np.asarray(image)]


def stack_shape(image) -> tuple[int, ...]:
    """The sizes of the axes beside the image plane of ``image``: a Slide's :attr:`planes`; for an
    array (or a list of pyramid levels) the axes before Y and X, or before Y, X and the colour
    axis where the last axis holds 3 or 4 samples (RGB(A))."""
    if _is_slide(image):
        return tuple(image.planes)
    shape = tuple(_as_levels(image)[0].shape)
    colour = len(shape) >= 3 and shape[-1] in (3, 4)
    return shape[:len(shape) - 2 - colour]


def series_planes(shape, *, axis: int | None = None, at: tuple = ()) -> list[tuple[int, ...]]:
    """The planes to judge of a stack whose leading axes have sizes ``shape``: every one (``axis``
    None), or every index along ``axis`` with the other axes held at ``at`` (e.g. the Z series at
    the channel and time point on screen; ``at`` defaults to zeros)."""
    shape = tuple(int(n) for n in shape)
    if axis is None:
        return list(product(*map(range, shape)))
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"axis {axis} does not exist: the stack has {len(shape)} axes beside the image plane")
    at = tuple(at) or (0,) * len(shape)
    if len(at) != len(shape):
        raise ValueError(f"give one index per axis beside the image plane ({len(shape)}), got {at!r}")
    axis %= len(shape)
    return [at[:axis] + (k,) + at[axis + 1:] for k in range(shape[axis])]


def one_plane(image, plane):
    """Plane ``plane`` of ``image`` as the jobs take it: a Slide's :meth:`~napari_cytoqa.io.Slide.plane`,
    else the pyramid's levels of that plane (:func:`plane_levels`)."""
    return image.plane(plane) if _is_slide(image) else plane_levels(_as_levels(image), plane)


def check_planes(image, planes) -> list[tuple[int, ...]]:
    """``planes`` (None: every plane; ints or index tuples) of the stack ``image`` as index tuples,
    checked: ``ValueError`` for a single 2-D image, no planes, or a plane outside the stack."""
    shape = stack_shape(image)
    if not shape:
        raise ValueError("this is a single 2-D image, not a stack: there is one plane")
    planes = series_planes(shape) if planes is None else [
        (p,) if isinstance(p, (int, np.integer)) else tuple(p) for p in planes]
    if not planes:
        raise ValueError("no planes given")
    for p in planes:
        if len(p) != len(shape) or not all(isinstance(i, (int, np.integer)) and 0 <= i < n for i, n in zip(p, shape)):
            raise ValueError(f"plane {p!r} is not in a stack of {' x '.join(map(str, shape))} planes")
    return planes


def iter_planes(image, planes, job, **options):
    """Run the generator job ``job(plane_image, **options)`` (yielding ``(done, total)`` tiles,
    returning a result) on each of ``planes`` of ``image`` in turn: yields ``(done, total)`` over all
    planes (every plane has the same shape, so the same number of tiles) and returns the
    ``(plane, result)`` pairs. Closing it stops the work between steps."""
    pairs = []
    for k, plane in enumerate(planes):
        gen = job(one_plane(image, plane), **options)
        try:
            while True:
                done, per_plane = next(gen)
                yield k * per_plane + done, per_plane * len(planes)
        except StopIteration as stop:
            pairs.append((plane, stop.value))
        finally:
            gen.close()
    return pairs


class PlaneRows:
    """For results with a ``table`` of one row per plane (``plane``: the label, ``index``: the
    indices): a plane's row and the table as CSV."""

    #: what was done to the planes, for the error naming one that was not
    done = "analysed"

    def row(self, plane):
        """The table's row of ``plane`` (its indices, or an int for a one-axis stack)."""
        plane = (plane,) if isinstance(plane, (int, np.integer)) else tuple(plane)
        hit = self.table.index[self.table["plane"] == plane_label(plane)]
        if not len(hit):
            raise KeyError(f"plane {plane_label(plane)} was not {self.done}")
        return self.table.loc[hit[0]]

    def to_csv(self, path) -> Path:
        """Write the table (without the ``index`` tuples, which ``plane`` names) as CSV."""
        from ._files import atomic_write

        return atomic_write(path, lambda tmp: self.table.drop(columns="index").to_csv(tmp, index=False))
