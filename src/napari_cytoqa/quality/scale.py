"""Analysis scale: bin finely sampled images down to the pixel size the quality checks know.

The quality network was trained, and the classical focus thresholds calibrated, on images at
about :data:`NOMINAL_UM` µm per pixel (the synthetic sources vary that by 0.6–1.8×). A slide
scanned at 40× (about 0.25 µm/px) or finer shows every structure two or more times larger, so
in-focus tissue looks soft to them. With a known pixel size, :func:`bin_factor` gives the
integer binning that brings the analysed pixels closest to the nominal size, and
:func:`bin_tile` averages blocks of that many pixels each way before a tile is scored. Tile
coordinates, the tile grid and the slide weights are unchanged; content, exposure and noise
are measured on the binned tile like everything else (binning averages noise down, as viewing
at that scale does). Images coarser than the nominal size are never enlarged (enlarging cannot
add the detail being judged).
"""
from __future__ import annotations

import numpy as np

from .._dtypes import cast_to

_WHAT = "pixel_size must be a number, a (y, x) pair, 'auto' or None, got "

#: Pixel size (µm) the quality checks are made for; a model spec's ``input["pixel_size_um"]``
#: overrides it.
NOMINAL_UM = 0.5


def resolve_pixel_size(image, pixel_size) -> float | None:
    """The level-0 pixel size in µm that ``pixel_size`` stands for, or None (analyse as it is).

    ``pixel_size``: None (no binning), a positive number or ``(y, x)`` pair in µm, or ``"auto"``:
    the :class:`~napari_cytoqa.io.Slide`'s own ``pixel_size_um`` (None when the file records none
    or ``image`` is a plain array). A ``(y, x)`` pair counts by its geometric mean.
    """
    if pixel_size is None:
        return None
    if isinstance(pixel_size, str):
        if pixel_size != "auto":
            raise ValueError(_WHAT + repr(pixel_size))
        pixel_size = getattr(image, "pixel_size_um", None)
        if pixel_size is None:
            return None
    try:
        px = np.broadcast_to(np.asarray(pixel_size, dtype=float), (2,))
    except (TypeError, ValueError):
        raise ValueError(_WHAT + repr(pixel_size)) from None
    if not (np.isfinite(px).all() and (px > 0).all()):
        raise ValueError(f"pixel_size must be positive and finite (µm per pixel), got {pixel_size!r}")
    return float(np.sqrt(px[0] * px[1]))


def bin_factor(pixel_size: float | None, nominal: float = NOMINAL_UM) -> int:
    """Integer binning (1 = none) that brings ``pixel_size`` (µm, of the analysed level) closest
    to ``nominal``: 0.25 → 2, 0.17 → 3, 0.33 → 2, 0.4 → 1; never below 1."""
    if pixel_size is None:
        return 1
    return max(1, int(np.floor(nominal / pixel_size + 0.5)))


def scale_hint(pixel_size: float | None, nominal: float = NOMINAL_UM) -> str | None:
    """With no ``pixel_size=`` passed, what to say where the analysed level's recorded pixel size
    (µm; None: unknown) would have been binned (:func:`bin_factor` ≥ 2): the check ran at its own
    pixels, where in-focus tissue can read soft. The default stays as it is; the hint says what to
    pass (docs/models.md, *Analysis scale*)."""
    f = bin_factor(pixel_size, nominal)
    if f < 2:
        return None
    return (f"analysed at its own {pixel_size:.3g} µm/px, {f}x finer than the {nominal:g} µm/px the checks were "
            f"made for: in-focus tiles can read blurry (the classical check calls most of them blurry at 0.25 "
            f"µm/px); pass pixel_size='auto' to judge tiles binned {f}x (cytoqa qc --pixel-size auto; the QC "
            f"widget's 'judge at 0.5 µm/px')")


def bin_tile(tile, f: int) -> np.ndarray:
    """Mean of ``f`` × ``f`` pixel blocks of a ``(Y, X[, C])`` tile, in its dtype (integers
    rounded); the last partial row or column of blocks is dropped, and ``f`` is capped at the
    tile's shorter side. ``f`` = 1 returns the tile as it is. NaN stays NaN."""
    t = np.asarray(tile)
    f = int(min(f, t.shape[0], t.shape[1]))
    if f <= 1:
        return t
    h, w = (t.shape[0] // f) * f, (t.shape[1] // f) * f
    x = t[:h, :w].astype(np.float32).reshape(h // f, f, w // f, f, *t.shape[2:]).mean(axis=(1, 3))
    return cast_to(x, t.dtype if t.dtype.kind in "uibf" else np.float32)
