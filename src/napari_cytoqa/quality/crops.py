"""Input preparation for the learned quality network, shared by training and inference.

A tile is scaled by image-wide intensity statistics (so a faint tile stays faint), then
``n`` native-resolution crops with the most structure are taken from a grid of candidates
and each is centred and divided by its own contrast (floored, so blank background is not
blown up into noise). Crops keep the pixel scale: resizing would erase the blur being judged.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .measures import IntensityStats

CROP = 96
MIN_STD = 0.05


def normalise_rgb(tile: np.ndarray, stats: IntensityStats) -> np.ndarray:
    """``(H, W, 3)`` float32 scaled so the image's luminance range spans 0–1; gray → 3 channels."""
    t = np.asarray(tile)
    if t.ndim == 2:
        t = t[..., None]
    t = t[..., :3].astype(np.float32)
    if t.shape[-1] == 1:
        t = np.repeat(t, 3, axis=-1)
    out = (t - stats.low) / stats.range
    if not np.isfinite(out).all():
        out = np.where(np.isfinite(out), out, (stats.background - stats.low) / stats.range)
    return out


@lru_cache(maxsize=64)
def _candidates(h: int, w: int, crop: int, grid: int = 3) -> tuple[tuple[int, int], ...]:
    """Top-left corners of the candidate crops (a ``grid`` × ``grid`` lattice); cached, since
    every whole tile of an image asks for the same ones."""
    ys = np.unique(np.linspace(0, max(h - crop, 0), grid).astype(int))
    xs = np.unique(np.linspace(0, max(w - crop, 0), grid).astype(int))
    return tuple((int(y), int(x)) for y in ys for x in xs)


def _standardise(c: np.ndarray) -> np.ndarray:
    c = (c - c.mean(axis=(0, 1))) / max(float(c.std()), MIN_STD)
    return c.transpose(2, 0, 1)


def _contrasts(img: np.ndarray, positions, crop: int) -> np.ndarray:
    """Std of every 4th pixel of each candidate crop (all channels), float64, in one pass."""
    off = np.arange(0, crop, 4)
    ys = np.array([p[0] for p in positions])[:, None] + off
    xs = np.array([p[1] for p in positions])[:, None] + off
    sample = img[ys[:, :, None], xs[:, None, :]]  # (candidates, crop/4, crop/4[, C])
    return sample.reshape(len(positions), -1).std(axis=1, dtype=np.float64)


def tile_crops(tile: np.ndarray, stats: IntensityStats, *, n: int = 4, crop: int = CROP):
    """Same result as ``select_crops(normalise_rgb(tile, stats), …)``, computed from the raw
    pixels: normalisation is affine and the same for every channel, so a crop's contrast is
    its raw contrast over ``stats.range`` and standardising never needs the normalised copy
    (a tile smaller than a crop is reflect-padded first, which commutes with the scaling)."""
    t = np.asarray(tile)
    if t.dtype.kind not in "ui":  # floats may hold NaN: the general path
        return select_crops(normalise_rgb(t, stats), n=n, crop=crop)
    if t.ndim == 2:
        t = t[..., None]
    t = t[..., :3]
    h, w = t.shape[:2]
    if h < crop or w < crop:
        pad = ((0, max(crop - h, 0)), (0, max(crop - w, 0)), (0, 0))
        t = np.pad(t, pad, mode="reflect" if min(h, w) > 1 else "edge")
        h, w = t.shape[:2]
    positions = _candidates(h, w, crop)
    stds = _contrasts(t, positions, crop) / stats.range  # a gray tile repeated over 3 channels keeps its std
    pick = np.argsort(-stds, kind="stable")[:n]
    raw = np.stack([t[positions[k][0]:positions[k][0] + crop, positions[k][1]:positions[k][1] + crop]
                    for k in pick]).transpose(0, 3, 1, 2).astype(np.float32, order="C")  # (n, c, crop, crop)
    flat = raw.reshape(len(pick), raw.shape[1], -1)  # reductions over the last axis are fast
    mean = flat.mean(axis=2)
    std = flat.reshape(len(pick), -1).std(axis=1) / stats.range
    scale = (1.0 / (np.maximum(std, MIN_STD) * stats.range)).astype(np.float32)
    crops = (raw - mean[:, :, None, None]) * scale[:, None, None, None]
    if crops.shape[1] == 1:
        crops = np.repeat(crops, 3, axis=1)
    return crops.astype(np.float32, copy=False), stds[pick].astype(np.float32)


def select_crops(norm: np.ndarray, *, n: int = 4, crop: int = CROP, positions=None):
    """The ``n`` candidate crops with the highest contrast, standardised, as ``(n, 3, crop, crop)``
    float32, and their contrasts (used as weights when averaging predictions)."""
    h, w = norm.shape[:2]
    if h < crop or w < crop:
        pad = ((0, max(crop - h, 0)), (0, max(crop - w, 0)), (0, 0))
        norm = np.pad(norm, pad, mode="reflect" if min(h, w) > 1 else "edge")
        h, w = norm.shape[:2]
    positions = positions or _candidates(h, w, crop)
    stds = _contrasts(norm, positions, crop)
    pick = np.argsort(-stds, kind="stable")[:n]
    crops = np.empty((len(pick), 3, crop, crop), dtype=np.float32)
    for i, k in enumerate(pick):
        y, x = positions[k]
        crops[i] = _standardise(norm[y:y + crop, x:x + crop])
    return crops, stds[pick].astype(np.float32)
