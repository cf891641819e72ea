"""Per-tile weights and weighted aggregation of tile predictions (seed 000, Table 3).

Strategies: ``"none"`` (plain sum over whole tiles), ``"size"`` (every tile,
weighted by its real-pixel fraction), ``"rgb_var"`` (mean of the per-channel
variances), ``"sat_var"`` (variance of HSV saturation), and
``"rgb_var_size"`` / ``"sat_var_size"`` (the same times the real fraction).

As in the paper, strategies without ``size`` drop partial edge tiles (weight
0) and the ``size`` ones keep them, scaled by the fraction of real pixels.
Variances are computed on the real pixels of a tile (never on zero padding),
with integer images scaled to [0, 1]. ``step > 1`` estimates them from every
``step``-th pixel in each direction (``assess_quality`` samples at least 16,384
pixels per tile: step 4 for 512-px tiles, within 1 % of the exact weights on cell images).
"""
from __future__ import annotations

import numpy as np

from .._dtypes import transparent_mask

WEIGHTINGS = ("none", "size", "rgb_var", "rgb_var_size", "sat_var", "sat_var_size")


def _unit(tile: np.ndarray) -> np.ndarray:
    tile = np.asarray(tile)
    if np.issubdtype(tile.dtype, np.integer):
        return tile.astype(np.float32) / np.iinfo(tile.dtype).max
    return tile.astype(np.float32)


def _colour(tile: np.ndarray) -> np.ndarray:
    t = _unit(tile)
    if t.ndim == 2:
        t = t[..., None]
    return t[..., :3]


def _hist_variance(tile: np.ndarray) -> float:
    """Exact ``rgb_variance`` of an 8/16-bit tile from per-channel histograms (3× faster)."""
    t = tile[..., None] if tile.ndim == 2 else tile[..., :3]
    levels = np.arange(np.iinfo(tile.dtype).max + 1, dtype=np.float64) / np.iinfo(tile.dtype).max
    out = []
    for c in range(t.shape[-1]):
        h = np.bincount(t[..., c].ravel(), minlength=levels.size)
        n = h.sum()
        mean = (h @ levels) / n
        out.append(max((h @ (levels * levels)) / n - mean * mean, 0.0))
    return float(np.mean(out))


def _sampled(tile: np.ndarray, step: int) -> np.ndarray:
    step = int(step)
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    if step == 1:
        return tile
    # start mid-cell, but inside the tile: a sliver narrower than step // 2 keeps its pixels
    y0, x0 = min(step // 2, tile.shape[0] - 1), min(step // 2, tile.shape[1] - 1)
    return tile[max(y0, 0)::step, max(x0, 0)::step]


def _counted(tile: np.ndarray) -> np.ndarray | None:
    """Mask of the pixels a weight is computed on — not fully transparent (RGBA alpha 0), not
    NaN/inf — or None when every pixel counts."""
    clear = transparent_mask(tile)
    mask = None if clear is None else ~clear
    if tile.dtype.kind == "f":
        finite = np.isfinite(tile if tile.ndim == 2 else tile[..., :3])
        finite = finite if finite.ndim == 2 else finite.all(axis=-1)
        if not finite.all():
            mask = finite if mask is None else mask & finite
    return mask


def rgb_variance(tile: np.ndarray, step: int = 1) -> float:
    """Mean over colour channels of each channel's variance (gray: the variance), from every
    ``step``-th pixel in each direction; fully transparent and NaN pixels do not count."""
    tile = _sampled(np.asarray(tile), step)
    mask = _counted(tile)
    if mask is not None:
        if not mask.any():
            return 0.0
        tile = tile[mask][None]  # (1, N[, C]): the counted pixels as one row
    if tile.dtype in (np.uint8, np.uint16) and tile.size:
        return _hist_variance(tile)
    t = _colour(tile)
    flat = t.reshape(-1, t.shape[-1])
    n = flat.shape[0]
    mean = np.einsum("ij->j", flat, dtype=np.float64) / n
    sq = np.einsum("ij,ij->j", flat, flat, dtype=np.float64) / n  # one pass, no temporaries
    return float(np.maximum(sq - mean**2, 0).mean())


def saturation_variance(tile: np.ndarray, step: int = 1) -> float:
    """Variance of HSV saturation ``(max - min) / max``; 0 for gray images; fully transparent
    and NaN pixels do not count."""
    tile = _sampled(np.asarray(tile), step)
    mask = _counted(tile)
    t = _colour(tile)
    if t.shape[-1] < 3 or (mask is not None and not mask.any()):
        return 0.0
    if mask is not None:
        t = t[mask]
    mx, mn = t.max(axis=-1), t.min(axis=-1)
    sat = np.where(mx > 0, (mx - mn) / np.where(mx > 0, mx, 1), 0.0)
    return float(sat.var())


def tile_weight(tile: np.ndarray, strategy: str, fraction: float = 1.0, step: int = 1) -> float:
    """Weight of one tile under ``strategy`` given its real-pixel ``fraction``; variances from
    every ``step``-th pixel in each direction."""
    if strategy not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {strategy!r}")
    sized = strategy.endswith("size")
    if not sized and fraction < 1.0:
        return 0.0
    base = {"rgb": rgb_variance, "sat": saturation_variance}.get(strategy[:3])
    value = base(tile, step) if base is not None else 1.0
    return float(value * fraction) if sized else float(value)


def aggregate(values, weights) -> float:
    """Weighted mean ``Σ w·v / Σ w`` over finite values (the seed's weighted sum, normalised).

    Falls back to the plain mean when every weight is zero; ``nan`` when no
    value is finite.
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    ok = np.isfinite(v) & np.isfinite(w)
    if not ok.any():
        return float("nan")
    v, w = v[ok], np.clip(w[ok], 0, None)
    if w.sum() <= 0:
        return float(v.mean())
    return float((v * w).sum() / w.sum())
