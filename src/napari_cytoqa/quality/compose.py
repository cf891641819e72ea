"""A composite of each tile's sharpest plane (an extended-depth-of-field image) from a
:class:`~napari_cytoqa.quality.planes.PlaneSeries` (no Qt).

A thick smear or a tilted slide is in focus at different depths in different places: the sharpest
plane of the whole stack leaves parts of it blurred. :func:`compose_sharpest` takes, tile by tile,
the plane the quality check judged sharpest (lowest blur level) and hands over between neighbouring
tiles' choices linearly in a band around the tile borders, so that no seam runs along them.
"""
from __future__ import annotations

import numpy as np

from ..stacks import _is_slide, one_plane

#: Largest composite made in memory (pixels of the analysed level): above it, analyse a coarser level.
MAX_PIXELS = 100_000_000
#: ``blend`` by default: the hand-over between neighbouring tiles' planes in the middle quarter
#: between their centres (rule BAND, docs/quality-control.md; before it, True: all of it)
DEFAULT_BAND = 0.25


def sharpest_map(series) -> np.ndarray:
    """Per tile (``rows × cols`` of the tile grid), the position in ``series.table`` of the plane with
    the lowest blur level there (the first on a tie; a tile no plane has a blur level for takes the
    first plane)."""
    reports = list(series.reports.values())
    first = reports[0].tiles
    shape = (int(first["row"].max()) + 1, int(first["col"].max()) + 1)
    levels = np.full((len(reports),) + shape, np.inf)
    for k, report in enumerate(reports):
        t = report.tiles
        if len(t) != len(first) or not (t[["row", "col"]].to_numpy() == first[["row", "col"]].to_numpy()).all():
            raise ValueError("the planes were judged on different tile grids: judge them with the same options")
        levels[k, t["row"], t["col"]] = np.nan_to_num(t["blur_level"].to_numpy(float), nan=np.inf)
    return np.argmin(levels, axis=0)


def _levels_of(image, plane) -> list:
    one = one_plane(image, plane)
    return one.levels if _is_slide(image) else one


def _band(blend) -> float:
    """``blend`` of :func:`compose_sharpest` as a band width in [0, 1] (True: 1, False: 0)."""
    if isinstance(blend, (bool, np.bool_)):
        return 1.0 if blend else 0.0
    if isinstance(blend, (int, float, np.number)) and 0 <= float(blend) <= 1:
        return float(blend)
    raise ValueError(f"blend must be True, False or a band between 0 and 1, got {blend!r}")


def _interpolation(centres: np.ndarray, n: int, band: float = 1.0) -> np.ndarray:
    """``(n, len(centres))`` weights that interpolate values at tile ``centres`` to pixels 0…n-1
    (constant beyond the first and last centre); each row sums to 1. ``band`` (0, 1]: the share of
    the distance between two centres, centred on the midpoint, over which the weight ramps linearly
    from one to the other (1: all of it)."""
    m = len(centres)
    out = np.zeros((n, m))
    pos = np.arange(n) + 0.5
    if m == 1:
        out[:, 0] = 1
        return out
    right = np.clip(np.searchsorted(centres, pos), 1, m - 1)
    left = right - 1
    frac = np.clip((pos - centres[left]) / (centres[right] - centres[left]), 0, 1)
    if band < 1:
        frac = np.clip((frac - 0.5) / band + 0.5, 0, 1)
    out[np.arange(n), left] = 1 - frac
    out[np.arange(n), right] += frac
    return out


def iter_compose_sharpest(image, series, *, blend: bool | float = DEFAULT_BAND):
    """Generator twin of :func:`compose_sharpest`: yields ``(done, total)`` planes read and returns
    the composite."""
    band = _band(blend)
    reports = list(series.reports.values())
    planes = list(series.reports)
    level = reports[0].level
    choice = sharpest_map(series)
    first = reports[0].tiles
    down = np.asarray(reports[0].downsample, float)
    arr0 = _levels_of(image, planes[0])[level]
    h, w = arr0.shape[:2]
    if h * w > MAX_PIXELS:
        raise ValueError(f"a composite of {h} x {w} pixels is too large to make in memory (at most "
                         f"{MAX_PIXELS:,}): judge the planes at a coarser pyramid level")
    rows, cols = choice.shape
    ys = first.groupby("row")[["y0", "y1"]].first().sort_index().to_numpy(float).mean(axis=1) / down[0]
    xs = first.groupby("col")[["x0", "x1"]].first().sort_index().to_numpy(float).mean(axis=1) / down[1]
    if band > 0:
        ay, ax = _interpolation(ys, h, band), _interpolation(xs, w, band)
    else:  # each pixel from its own tile's plane (seams at the tile borders)
        ay = np.eye(rows)[np.clip(np.searchsorted(np.r_[ys[1:] + ys[:-1]] / 2, np.arange(h) + 0.5), 0, rows - 1)]
        ax = np.eye(cols)[np.clip(np.searchsorted(np.r_[xs[1:] + xs[:-1]] / 2, np.arange(w) + 0.5), 0, cols - 1)]
    used = np.unique(choice)
    acc = np.float64 if np.dtype(arr0.dtype) == np.float64 else np.float32  # float32 holds 8/16-bit pixels
    out = np.zeros(arr0.shape, acc)
    yield 0, len(used)
    for done, k in enumerate(used, 1):
        weight = (ay @ (choice == k).astype(float) @ ax.T).astype(acc)
        data = np.asarray(_levels_of(image, planes[k])[level], acc)
        out += data * (weight if data.ndim == 2 else weight[..., None])
        yield done, len(used)
    dtype = np.dtype(arr0.dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(dtype)


def compose_sharpest(image, series, *, blend: bool | float = DEFAULT_BAND, progress=None,
                     cancel=None) -> np.ndarray:
    """The sharpest plane of each tile, put together: an all-in-focus image of a focus series.

    Parameters
    ----------
    image : Slide, array-like or list of arrays
        The stack :func:`~napari_cytoqa.quality.planes.assess_planes` judged.
    series : PlaneSeries
        What it found; every plane judged with the same tiling (the composite is at the analysed
        pyramid level, in the stack's dtype).
    blend : float or bool
        The band, as a share of the distance between neighbouring tile centres and centred on the
        tile border, over which one tile's plane hands over linearly to the next, so that the planes
        meet without a seam: :data:`DEFAULT_BAND` (0.25) by default, each tile's own plane alone
        over the middle three quarters (rule BAND in docs/quality-control.md); True (1): the whole
        distance, each tile's choice weighing 1 at its centre and 0 at its neighbours'; False (0):
        each tile's pixels from its own plane alone.
    progress, cancel : callable, optional
        ``progress(done, total)`` over the planes read; ``cancel()`` polled after each.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage as ndi
    >>> from napari_cytoqa import assess_planes
    >>> from napari_cytoqa.synthetic import make_smear
    >>> sharp = make_smear((256, 256), seed=0).image
    >>> blurred = ndi.gaussian_filter(sharp, (6, 6, 0))
    >>> left, right = sharp.copy(), blurred.copy()  # each plane in focus on one half
    >>> left[:, 128:], right[:, 128:] = blurred[:, 128:], sharp[:, 128:]
    >>> stack = np.stack([left, right])
    >>> series = assess_planes(stack, tile_size=128)
    >>> composite = compose_sharpest(stack, series, blend=False)
    >>> bool((composite == sharp).all())
    True
    """
    from .._generators import run_generator
    from .assess import Cancelled

    return run_generator(iter_compose_sharpest(image, series, blend=blend),
                         on_yield=None if progress is None else (lambda item: progress(*item)), cancel=cancel,
                         cancelled=lambda item: Cancelled(f"composite cancelled after {item[0]} of {item[1]} planes"))
