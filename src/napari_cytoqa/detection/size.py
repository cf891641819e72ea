"""Automatic cell-size estimate (``detect_cells(..., diameter="auto")``), GUI-free.

The detectors were trained on cells of :data:`~.detect.REFERENCE_DIAMETER_PX`; an image whose
cells are much larger or smaller is over-split or under-detected. Like Cellpose's size model,
the estimate comes from the segmentation network rather than a hand-tuned filter, so "a
cell" means what the detector means: the combined U-Net segments a sample window told that
cells are ``D`` px across, for a descending series of ``D``, and the true size is where the
median diameter it reports equals ``D`` (see :func:`estimate_diameter`).
"""
from __future__ import annotations

import numpy as np

#: fewer instances than this in the sample window: no estimate (too little to measure)
MIN_OBJECTS = 5
#: no size with ``r(D) >= D``: the first ``r(D) / D`` from the top to reach this gives the estimate
NEAR = 0.85
#: instances smaller than this fraction of the size told are not counted: specks and fragments
#: (rule F2, docs/detection.md; before it, 0: all were)
MIN_FRACTION = 0.4
#: estimates are kept within this range of pixel diameters (what ``diameter=`` accepts)
LIMITS = (4.0, 400.0)
#: whether the U-Net's sample runs join pieces of one cell (``merge=`` of
#: :func:`~.detect.detect_cells`); "auto" follows :data:`~.detect.DEFAULT_MERGE`. False since
#: rule K (docs/detection.md): joining made two CHO frames read 24 and 34 px for 68-74
ESTIMATE_MERGE: bool | str = False


def is_number(v) -> bool:
    """A real, finite number (an int, float or numpy scalar; not a bool): what size, overlap and
    similar pixel arguments must be."""
    return isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)) and bool(np.isfinite(v))


def resolve_diameter(image, levels, level: int, diameter=None, diameter_um=None, pixel_size="auto"):
    """The cell diameter :func:`~.detect.detect_cells` works with: pixels of level ``level``,
    ``"auto"`` or None, from ``diameter`` (pixels or ``"auto"``) or ``diameter_um`` (µm, with
    ``pixel_size``: µm per level-0 pixel, a ``(y, x)`` pair, or ``"auto"`` — the
    :class:`~napari_cytoqa.io.Slide`'s own). Raises ``ValueError`` with what to pass instead."""
    from ..quality.scale import resolve_pixel_size

    if diameter_um is not None:
        if diameter is not None:
            raise ValueError("pass the cell diameter once: diameter= (pixels or 'auto') or diameter_um= (µm)")
        if not (is_number(diameter_um) and diameter_um > 0):
            raise ValueError(f"diameter_um must be a positive cell diameter in µm, got {diameter_um!r}")
        px = resolve_pixel_size(image, pixel_size)
        if px is None:
            raise ValueError("diameter_um needs the pixel size, and the image records none: pass pixel_size= "
                             "(µm per pixel) or diameter= in pixels")
        down = levels[0].shape[0] / levels[level].shape[0]  # level-0 pixels per pixel of the analysed level
        diameter = float(diameter_um) / (px * down)
        if not 2 <= diameter <= 1000:
            raise ValueError(f"diameter_um={diameter_um} µm at {px * down:.4g} µm/px is {diameter:.1f} px; "
                             "the detectors take 2-1000 px: check the pixel size or choose another level")
        return diameter
    if isinstance(diameter, str):
        if diameter != "auto":
            raise ValueError(f'diameter must be a number of pixels, "auto" or None, got {diameter!r}')
        return diameter
    if diameter is not None and not (is_number(diameter) and 2 <= diameter <= 1000):
        raise ValueError(f"diameter must be a cell diameter in pixels between 2 and 1000, got {diameter!r}")
    return diameter


#: no ``diameter`` given and the analysed level's pixel size is more than this factor from the
#: 0.5 µm/px the shipped detectors' cells (16 px, 8 µm) were made at: :func:`scale_hint` says so
SCALE_HINT_FACTOR = 1.5


def scale_hint(image, levels, level: int, pixel_size="auto") -> str | None:
    """With no cell diameter given, a hint where the analysed level's pixel size (``pixel_size`` as in
    :func:`resolve_diameter`; unknown: None) is far from the training's 0.5 µm/px: the detectors
    then look for cells of 16 px, which are 4 µm at 0.25 µm/px (40×) or 21 µm at 1.3 µm/px. The
    default stays as it is (cells vary in size; a wrong guess would move every count): the hint
    says what to pass."""
    from ..quality.scale import NOMINAL_UM, resolve_pixel_size

    px = resolve_pixel_size(image, pixel_size)
    if px is None:
        return None
    at = px * levels[0].shape[0] / levels[level].shape[0]  # µm per pixel of the analysed level
    if 1 / SCALE_HINT_FACTOR <= at / NOMINAL_UM <= SCALE_HINT_FACTOR:
        return None
    from .detect import REFERENCE_DIAMETER_PX

    trained = REFERENCE_DIAMETER_PX * NOMINAL_UM
    return (f"no cell diameter given: looking for cells of {REFERENCE_DIAMETER_PX:.0f} px, as trained "
            f"({trained:.0f} µm at {NOMINAL_UM} µm/px), which at this level's {at:.3g} µm/px are "
            f"{REFERENCE_DIAMETER_PX * at:.1f} µm; give the cells' size (diameter_um=, e.g. {trained:.0f} "
            f"for nuclei like the training's, {trained / at:.0f} px here; the CLI's --diameter {trained:.0f}um) "
            "or diameter='auto'")


def _sample_window(arr, side: int):
    """The ``side`` × ``side`` window (of a 3 × 3 set of candidates) with the most contrast."""
    from ..quality.measures import luminance
    from ..tiling import read_tile

    h, w = arr.shape[:2]
    if h <= side and w <= side:
        return np.asarray(arr)
    sh, sw = min(side, h), min(side, w)
    best, pick = -1.0, (0, 0)
    for y in np.unique(np.linspace(0, h - sh, 3).astype(int)):
        for x in np.unique(np.linspace(0, w - sw, 3).astype(int)):
            step = max(1, side // 128)
            lum = luminance(np.asarray(arr[y:y + sh:step, x:x + sw:step]))
            spread = float(np.nanstd(lum)) if np.isfinite(lum).any() else -1.0
            if spread > best:
                best, pick = spread, (int(y), int(x))
    return read_tile(arr, (pick[0], pick[1], pick[0] + sh, pick[1] + sw))


def equivalent_diameters(labels: np.ndarray) -> np.ndarray:
    """Diameter of the disc of equal area, per instance of a label image."""
    areas = np.bincount(np.asarray(labels).ravel())[1:]
    return np.sqrt(4 * areas[areas > 0] / np.pi)


#: diameters tried, from the top down (factor sqrt 2); the estimate lies between two of them
GRID = tuple(float(256 / np.sqrt(2) ** i) for i in range(12))  # 256 ... 5.66 px


def _reported(region, diameter, model, device, precision=None, min_fraction=None, stain="none", merge="auto"):
    """Median instance diameter the U-Net reports when told cells are ``diameter`` px (or None
    when it finds fewer than MIN_OBJECTS), counting instances of at least ``min_fraction`` ×
    ``diameter`` (default :data:`MIN_FRACTION`). ``merge``: as in :func:`~.detect.detect_cells`."""
    from . import detect
    from .merge import DEFAULT_OVERLAP

    # the fixed 64-px overlap the estimate was measured with (rules F2, K), not overlap="auto"; told
    # diameter / DIAMETER_FACTOR, the U-Net sees cells of `diameter` at the trained size, as measured
    det = detect.detect_cells(region, detector="unet", routing="combined", model=model, device=device,
                              diameter=diameter / detect.DIAMETER_FACTOR, precision=precision, keep_labels=True,
                              tta=False, stain=stain, merge=merge, overlap=DEFAULT_OVERLAP)
    d = equivalent_diameters(det.labels)
    d = d[d >= (MIN_FRACTION if min_fraction is None else min_fraction) * diameter]
    return float(np.median(d)) if len(d) >= MIN_OBJECTS else None


def diameter_from_curve(curve, fallback: str = "first") -> float | None:
    """The estimate from ``[(D, r(D) or None), ...]`` in :data:`GRID` order (see
    :func:`estimate_diameter`), or None where no size fits. ``fallback`` picks the ``r(D)``
    used where ``r(D) / D`` never reaches 1: ``"first"`` (default since rule F,
    docs/detection.md) that of the largest ``D`` whose ratio reaches :data:`NEAR`;
    ``"closest"`` (before) that of the ratio nearest to 1, if at least :data:`NEAR` — on
    fragmenting textured nuclei that one lies among the fragments."""
    above = None  # (D, ratio < 1) of the last size tried that was too large
    near = []  # (ratio, r) of the sizes with NEAR <= ratio < 1, from the top down
    for d, r in curve:
        if r is None:
            continue
        ratio = r / d
        if ratio < 1:
            above = (d, ratio)
            if ratio >= NEAR:
                near.append((ratio, r))
            continue
        if above is None:  # cells at least as large as the largest size tried
            return float(np.clip(r, *LIMITS))
        (d_hi, g_hi), g_lo = above, ratio
        frac = np.log(g_lo) / (np.log(g_lo) - np.log(g_hi))
        return float(np.clip(d * (d_hi / d) ** frac, *LIMITS))
    if not near:
        return None
    if fallback == "first":
        return float(np.clip(near[0][1], *LIMITS))
    if fallback != "closest":
        raise ValueError(f"fallback must be 'closest' or 'first', got {fallback!r}")
    return float(np.clip(max(near, key=lambda c: c[0])[1], *LIMITS))


def estimate_diameter(image, *, level: int = 0, window: int = 1024,
                      model: str = "cytoqa-unet-combined", device: str = "auto",
                      precision: str | None = None, stain: str = "none",
                      merge: bool | str = "auto") -> float:
    """Typical cell diameter (pixels of pyramid level ``level``) of ``image``.

    The most contrasted ``window`` × ``window`` region is segmented by the U-Net ``model`` as
    if its cells were ``D`` px across, for ``D`` in :data:`GRID` from the top down, until the
    median reported diameter ``r(D)`` (of the instances at least :data:`MIN_FRACTION` × ``D``
    across) reaches ``D``. Told too large a size, the network sees
    the cells shrunk and reports them smaller than ``D``; at the true size it reports the true
    size; told too small a size, it either reports them larger (whole) or, on blurred large
    cells, splits them into pieces of about ``D`` — so the *largest* ``D`` with
    ``r(D) >= D`` brackets the true size, and the estimate is interpolated (in log space) where
    ``r(D) / D`` crosses 1. Where it never reaches 1 (heavily blurred smears, fragmenting
    textured nuclei), the ``r(D)`` of the largest ``D`` with ``r(D) / D >= NEAR`` counts.
    Raises ``ValueError`` when no size works (fewer than :data:`MIN_OBJECTS` cells, or none
    that fits). ``precision``, ``stain`` and ``merge`` (``"auto"``: :data:`ESTIMATE_MERGE`): of
    the U-Net's runs, as in :func:`~.detect.detect_cells`. 1–12 passes: about 10–30 s for a
    768² window on 2 CPU cores, up to a minute when no size fits exactly (the passes below 16 px,
    which upsample, cost most).
    """
    from .detect import pick_level

    _, arr = pick_level(image, level)
    region = _sample_window(arr, int(window))
    merge = ESTIMATE_MERGE if merge == "auto" else merge
    curve = []
    for d in GRID:
        r = _reported(region, d, model, device, precision, stain=stain, merge=merge)
        curve.append((d, r))
        if r is not None and r >= d:  # the first crossing decides; no need to go on
            break
    estimate = diameter_from_curve(curve)
    if estimate is not None:
        return estimate
    raise ValueError(f"cannot estimate the cell diameter: no size from {GRID[0]:.0f} to {GRID[-1]:.1f} px "
                     f"finds {MIN_OBJECTS}+ cells of that size in the {region.shape[0]}×{region.shape[1]} "
                     "sample window; pass diameter= in pixels")
