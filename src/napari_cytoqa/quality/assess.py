"""``assess_quality``: tile an image, score each tile, aggregate to a slide verdict."""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._dtypes import transparent_as_nan
from ..tiling import WEIGHTINGS, read_tile, tile_grid, tile_weight
from .calibration import grade as grade_of
from .classical import ClassicalScorer
from .learned import DEFAULT_MODEL, LearnedScorer
from .int8 import PRECISIONS
from .measures import IntensityStats, usability
from .report import QualityReport, slide_p_valid, slide_summary
from .stain_check import MIN_P_VALID, he_shares, is_he_section
from .scale import NOMINAL_UM, bin_factor, bin_tile, resolve_pixel_size, scale_hint

log = logging.getLogger(__name__)

#: Scorer factories by method name: ``factory(stats, **options) -> scorer`` with ``score_batch(tiles)``.
METHODS = {"learned": LearnedScorer, "classical": ClassicalScorer}
MIN_SIDE = 16
MAX_STAT_PIXELS = 250_000
#: Tile weights (RGB/saturation variance) are estimated from a regular sample of at least this
#: many pixels (every 4th pixel each way of a 512-px tile: 1/16 of the work, within 1 % of the
#: exact variance on cell tiles); small tiles use every pixel.
WEIGHT_SAMPLES = 16_384


def weight_step(tile_shape) -> int:
    """Sampling step (1–4) for tile weights of tiles of ``tile_shape``."""
    return int(np.clip(np.sqrt(tile_shape[0] * tile_shape[1] / WEIGHT_SAMPLES), 1, 4))


class Cancelled(RuntimeError):
    """Raised by :func:`assess_quality` when its ``cancel`` callback returns True."""


def _levels(image) -> list:
    if hasattr(image, "levels") and hasattr(image, "downsamples"):  # a Slide
        return list(image.levels)
    if isinstance(image, Sequence) and not isinstance(image, (str, bytes)) and len(image) \
            and hasattr(image[0], "shape"):
        return list(image)
    if not hasattr(image, "shape"):
        image = np.asarray(image)
    return [image]


def pick_level(image, level: int) -> tuple[list, object]:
    """The pyramid levels of ``image`` (array, list of arrays or Slide) and level ``level``."""
    levels = _levels(image)
    if not 0 <= level < len(levels):
        raise ValueError(f"level {level} does not exist; the image has {len(levels)} level(s)")
    return levels, levels[level]


def stats_level(levels, level: int, min_pixels: int = 1_000_000):
    """The coarsest pyramid level from ``level`` on that still holds ``min_pixels`` (else level
    ``level`` itself): where image-wide statistics are sampled. A strided read of a lazy
    full-resolution level touches every chunk of it; a coarser level is a fraction of the I/O."""
    return next((lv for lv in reversed(levels[level:]) if lv.shape[0] * lv.shape[1] >= min_pixels), levels[level])


def check_image(arr) -> None:
    """Raise ``ValueError`` with a clear message unless ``arr`` is a 2-D gray/RGB(A) image."""
    shape, dtype = tuple(arr.shape), np.dtype(arr.dtype)
    if np.issubdtype(dtype, np.complexfloating) or dtype.kind not in "biuf":
        raise ValueError(f"unsupported pixel type {dtype}; use integers or floats")
    if len(shape) == 3 and shape[-1] not in (1, 3, 4):
        what, hint = "a 3-D stack", "pass one plane, e.g. image[0]"
        if shape[-1] == 2 or (shape[-1] <= 16 and shape[-1] < min(shape[:2]) and shape[0] > 16):
            what, hint = f"a {shape[-1]}-channel image", "pass one channel, e.g. image[..., 0]"
        elif shape[0] in (3, 4):
            what, hint = "channels-first RGB(A) or a 3-D stack", ("pass np.moveaxis(image, 0, -1) for colour, or "
                                                                  "one plane, e.g. image[0]")
        raise ValueError(f"image of shape {shape} looks like {what}; cytoqa analyses one 2-D plane (Y, X) or an "
                         f"RGB(A) image (Y, X, 3|4): {hint}")
    if len(shape) not in (2, 3):
        raise ValueError(f"expected a 2-D image (Y, X[, C]), got shape {shape}")
    if min(shape[:2]) < MIN_SIDE:
        raise ValueError(f"image of shape {shape} is too small: at least {MIN_SIDE}×{MIN_SIDE} "
                         "pixels are needed")


def _judged_box(box, side: int = MIN_SIDE) -> tuple:
    """The pixels a tile is judged on: its box, widened backwards to ``side`` where the
    image edge cut it thinner (an image 1 px wider than a whole number of tiles leaves a
    1-px sliver, on which no focus measure is defined): the sliver is judged on the last
    ``side`` pixels of the image. ``side`` is ``MIN_SIDE`` analysed pixels — ``MIN_SIDE`` × the
    binning factor — which ``check_image`` and the cap on that factor guarantee exist."""
    y0, x0, y1, x1 = (int(v) for v in box)
    return min(y0, max(y1 - side, 0)), min(x0, max(x1 - side, 0)), y1, x1


def strided_sample(arr, max_pixels: int):
    """``arr[::step, ::step]`` with the smallest step that leaves about ``max_pixels`` or fewer:
    exact pixel values (no averaging) for image-wide statistics."""
    step = max(1, int(np.sqrt(arr.shape[0] * arr.shape[1] / max_pixels)))
    return arr[::step, ::step]


def _stats_sample(levels, level, grid):
    arr = levels[level]
    if isinstance(arr, np.ndarray):
        return strided_sample(arr, MAX_STAT_PIXELS)
    smallest = levels[-1]
    if len(levels) > 1 and min(smallest.shape[:2]) >= 64:
        return np.asarray(strided_sample(smallest, MAX_STAT_PIXELS))
    pick = np.unique(np.linspace(0, len(grid) - 1, min(len(grid), 32)).astype(int))
    tiles = [read_tile(arr, grid.boxes[i]).reshape(-1, *arr.shape[2:]) for i in pick]
    return np.concatenate(tiles)[:, None] if arr.ndim == 2 else np.concatenate(tiles)[:, None, :]


def iter_assess_quality(image, *, tile_size=512, stride=None, method: str = "learned",
                        model: str | None = None, device: str = "auto", weighting: str = "rgb_var",
                        level: int = 0, batch_size: int = 16, precision: str = "auto", pixel_size=None,
                        assume_valid: bool = False, stain_check: bool = True):
    """Generator twin of :func:`assess_quality`: yields ``(done, total)`` after each batch
    and returns the :class:`QualityReport` (``StopIteration.value``). Closing the
    generator stops the work between batches."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; available: {sorted(METHODS)}")
    from ..models.precision import check_precision

    check_precision(precision, PRECISIONS)
    px0 = resolve_pixel_size(image, pixel_size)
    levels, arr = pick_level(image, level)
    check_image(arr)
    h, w = arr.shape[:2]
    ts = np.broadcast_to(np.asarray(tile_size, dtype=int), (2,))
    ts = (min(int(ts[0]), h), min(int(ts[1]), w))
    grid = tile_grid((h, w), ts, stride=stride, edge="pad")
    sample = transparent_as_nan(_stats_sample(levels, level, grid))
    stats = IntensityStats.from_sample(sample, arr.dtype)
    options = ({"model": model or DEFAULT_MODEL, "device": device, "precision": precision}
               if method == "learned" else {})
    scorer = METHODS[method](stats, **options)
    colour = None  # measured only where the network is unsure (most slides never pay for it)
    if stain_check and not assume_valid and getattr(scorer, "judges_cells", False):
        def colour(sample=sample, fs=stats.full_scale):
            shares = he_shares(sample, fs)
            return shares | {"section": is_he_section(shares)}
    del sample
    down = (levels[0].shape[0] / h, levels[0].shape[1] / w)
    spec = getattr(getattr(scorer, "loaded", None), "spec", None)
    nominal = float(spec.input.get("pixel_size_um", NOMINAL_UM)) if spec is not None else NOMINAL_UM
    f = bin_factor(None if px0 is None else px0 * float(np.sqrt(down[0] * down[1])), nominal)
    recorded = resolve_pixel_size(image, "auto") if pixel_size is None else None  # not asked to bin: say so?
    hint = scale_hint(None if recorded is None else recorded * float(np.sqrt(down[0] * down[1])), nominal)
    if hint:
        name = getattr(image, "name", None)
        log.warning("%s%s", f"{name}: " if isinstance(name, str) else "", hint)
    f = min(f, min(h, w) // MIN_SIDE)  # binned, the image keeps at least MIN_SIDE pixels a side
    fractions = grid.fraction
    # if no tile is whole (image smaller than a tile), let partial tiles count by size
    strategy = weighting if (fractions >= 1).any() or weighting.endswith("size") else "size"
    rows, total, step = [], len(grid), weight_step(ts)
    yield 0, total
    for start in range(0, total, batch_size):
        idx = range(start, min(start + batch_size, total))
        tiles = [read_tile(arr, _judged_box(grid.boxes[i], MIN_SIDE * f)) for i in idx]
        judged = [transparent_as_nan(t) for t in tiles]  # transparent pixels are background, not black
        judged = [bin_tile(t, f) for t in judged] if f > 1 else judged
        for i, tile, scores in zip(idx, tiles, scorer.score_batch(judged)):
            scores["weight"] = tile_weight(tile, strategy, float(fractions[i]), step=step)
            rows.append(scores)
        yield len(rows), total
    name = f"{method}:{options['model']}" if options else method
    return _build_report(grid, rows, stats, down, name, weighting, ts, level, levels[0].shape,
                         precision=getattr(scorer, "precision", ""), pixel_size=px0, binning=f,
                         assume_valid=assume_valid, colour=colour, warnings=[hint] if hint else [])


def _build_report(grid, rows, stats, down, method, weighting, ts, level, shape0, precision="",
                  pixel_size=None, binning=1, assume_valid=False, colour=None, warnings=()) -> QualityReport:
    cols = {k: np.asarray([r[k] for r in rows]) for k in rows[0]}  # a grid has at least one tile
    boxes = np.rint(grid.scaled(down)).astype(np.int64)
    data = {"row": grid.rows, "col": grid.cols, "y0": boxes[:, 0], "x0": boxes[:, 1], "y1": boxes[:, 2],
            "x1": boxes[:, 3], "level": np.full(len(grid), level), "fraction": grid.fraction, **cols}
    weight = cols["weight"].astype(np.float64)
    data["weight"] = weight / weight.sum() if weight.sum() > 0 else weight
    validity = "assumed" if assume_valid else "judged"
    measured = {}
    if colour is not None:  # ``stain_check``: a callable that measures the slide's colour
        if MIN_P_VALID <= slide_p_valid(cols["p_valid"], cols["has_content"], data["weight"]) < 0.5:
            # the network unsure: ask the colour
            measured = colour()
            validity = "stain" if measured["section"] else validity
    if validity != "judged":  # cell images by the user's word or the colour: only usability counts
        valid = np.array([usability(d, c) for d, c in zip(cols["dark"], cols["clipped"])]) >= 0.5
    else:
        valid = cols["p_valid"] >= 0.5
    content = cols["has_content"].astype(bool)
    graded = cols["grade"] if "grade" in cols else [grade_of(lv, nz)
                                                    for lv, nz in zip(cols["blur_level"], cols["noise"])]
    data["valid"] = valid
    data["grade"] = np.where(valid & content, graded, np.where(valid, "", "bad"))
    data["verdict"] = np.where(~valid, "invalid", np.where(~content, "empty",
                                                             np.where(cols["p_blurry"] >= 0.5, "blurry", "sharp")))
    df = pd.DataFrame(data)
    agg = slide_summary(df, stats, assume_valid=validity != "judged")
    return QualityReport(tiles=df, method=method, weighting=weighting, tile_size=ts,
                         stride=tuple(int(v) for v in grid.stride), level=level,
                         downsample=down, image_shape=tuple(shape0), precision=precision,
                         pixel_size_um=pixel_size, binning=binning, validity=validity,
                         stain_check=measured, warnings=list(warnings), **agg)


def assess_quality(image, *, tile_size=512, stride=None, method: str = "learned",
                   model: str | None = None, device: str = "auto", weighting: str = "rgb_var",
                   level: int = 0, batch_size: int = 16, precision: str = "auto", pixel_size=None,
                   assume_valid: bool = False, stain_check: bool = True, progress=None,
                   cancel=None) -> QualityReport:
    """Judge focus, content and validity per tile and for the whole image.

    Parameters
    ----------
    image : array-like, list of arrays, or Slide
        ``(Y, X)``, ``(Y, X, 3)`` or ``(Y, X, 4)``; numpy, dask or zarr; a
        list is a pyramid (full resolution first). Any integer or float dtype;
        NaN/inf pixels count as background.
    tile_size : int or (int, int)
        Tile size in pixels of the analysed ``level`` (clipped to the image).
    stride : int, optional
        Step between tiles; defaults to ``tile_size``.
    method : str
        ``"learned"`` (the quality network; default) or ``"classical"`` (band-energy
        focus measures, no model), the keys of :data:`METHODS`.
    model : str, optional
        Registry name or alias of the quality model (``"learned"`` only); default
        ``"cytoqa-quality"``. See :func:`napari_cytoqa.models.list_models`.
    device : str
        ``"auto"`` (CUDA, then MPS, then CPU), or a torch device string.
    precision : str
        Number format of the quality network. ``"auto"`` (default): ``"bf16"`` on a CPU that
        computes in bfloat16 natively (Intel AMX / AVX512-BF16; same held-out accuracy as
        float32, about 1.2× faster per image), else ``"fp32"``. ``"bf16"`` forces bfloat16
        (emulated, probably slower, on other CPUs; see :mod:`napari_cytoqa.models.precision`);
        ``"int8"``: quantized to 8 bits, CPU only, slightly less accurate (see
        :mod:`napari_cytoqa.quality.int8`).
    weighting : str
        Seed 000's tile weighting for the slide aggregate (see
        :mod:`napari_cytoqa.tiling.weights`); ``"rgb_var"`` by default.
    level : int
        Pyramid level to analyse; tile coordinates are reported at level 0.
    pixel_size : float, (float, float), "auto" or None
        Level-0 pixel size in µm, to judge finely sampled images at the scale the checks were
        made for (0.5 µm/px; the model spec's ``input["pixel_size_um"]``): each tile is binned
        by the integer factor closest to that size (0.25 µm/px → 2×) before it is scored;
        tiles, their coordinates and weights stay as they are (see
        :mod:`napari_cytoqa.quality.scale`). ``"auto"``: a Slide's recorded pixel size. None
        (default): every image is analysed at its own pixels, as before.
    assume_valid : bool
        The caller knows these are cell images: every tile counts as valid, so a slide the
        validity check misjudges still gets its focus and grade verdicts. ``p_valid`` keeps the
        model's judgement; the report's ``validity`` says ``"assumed"``. Use it for real IHC
        sections, or H&E that ``stain_check`` misses, which the shipped model often calls "not a
        cell image" (see docs/models.md). Default False: validity is judged.
    stain_check : bool
        A second opinion on "cell image or not" from colour
        (:mod:`napari_cytoqa.quality.stain_check`): a slide whose stain-absorbing pixels are
        mostly hematoxylin-purple and eosin-pink is an H&E section, and counts as a cell image
        when the network's aggregated ``p_valid`` lies between
        :data:`~napari_cytoqa.quality.stain_check.MIN_P_VALID` and 0.5; the report's
        ``validity`` then says ``"stain"``. ``stain_check`` holds the measured shares wherever
        ``p_valid`` lies in that range (elsewhere the colour is not measured: empty). Default
        True since rule S (docs/models.md, *H&E sections by colour*): three real H&E sections the
        network had judged "not a cell image" became cell images, and no non-cell image of any
        held-out set, nor any of 1,000 generated ones, did. IHC is not covered (use
        ``assume_valid``).
    progress : callable, optional
        Called as ``progress(done, total)``.
    cancel : callable, optional
        Polled between batches; when it returns True, :class:`Cancelled` is raised.

    Returns
    -------
    QualityReport

    Examples
    --------
    >>> from napari_cytoqa.synthetic import make_smear
    >>> report = assess_quality(make_smear((512, 512), seed=0).image, tile_size=256)
    >>> report.verdict, len(report.tiles)
    ('sharp', 4)
    """
    from .._generators import run_tiles

    gen = iter_assess_quality(image, tile_size=tile_size, stride=stride, method=method, model=model,
                              device=device, weighting=weighting, level=level, batch_size=batch_size,
                              precision=precision, pixel_size=pixel_size, assume_valid=assume_valid,
                              stain_check=stain_check)
    return run_tiles(gen, progress=progress, cancel=cancel, what="quality check")
