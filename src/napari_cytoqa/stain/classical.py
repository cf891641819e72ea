"""Classical stain normalisers: Macenko (2009) and Reinhard (2001).

Both are fitted once per image — on an evenly strided sample of the whole image — and then
applied pixel by pixel, tile by tile. A fitted transform is the same for every tile, so tiled
output has no seams, and a tile with little or no tissue is simply transformed (it is never
asked to estimate stains on its own, which is where torchstain and StainTools fail).

A :class:`StainTarget` holds what a reference image contributes (Macenko stain vectors and
concentration maxima, Reinhard's CIELAB means and standard deviations, the lamp colour); it
round-trips through JSON so a lab can keep its target without its reference image.
"""
from __future__ import annotations

import json
import logging
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .._dtypes import transparent_mask
from .colour import (OD_THRESHOLD, StainInputError, check_rgb, estimate_background, fit_sample, lab_to_rgb,
                     optical_density, rgb_to_lab, scale_of, to_unit)

log = logging.getLogger(__name__)

#: Macenko's customary H&E reference (columns: haematoxylin, eosin OD unit vectors) and
#: the 99th-percentile concentrations that go with it.
DEFAULT_STAINS = np.array([[0.5626, 0.2159], [0.7201, 0.8012], [0.4062, 0.5581]])
DEFAULT_MAX_CONC = np.array([1.9705, 1.0308])
MIN_TISSUE_PIXELS = 200
ANGLE_PERCENTILE = 1.0
CONC_PERCENTILE = 99.0
BLEND_OD = (0.05, OD_THRESHOLD)  # Reinhard: background → tissue ramp in optical density


class StainFitWarning(UserWarning):
    """Too little tissue to estimate stains; a default was used instead."""


@dataclass(frozen=True)
class StainTarget:
    """Stain statistics of one image (a reference, or a source being normalised)."""

    stains: tuple  # 3 × 2 OD unit vectors (columns: first = haematoxylin-like, second = eosin-like)
    max_conc: tuple  # 2 concentration maxima (99th percentile)
    lab_mean: tuple  # CIELAB mean over tissue pixels
    lab_std: tuple  # CIELAB std over tissue pixels
    background: tuple = (1.0, 1.0, 1.0)  # lamp colour in [0, 1]
    tissue_pixels: int = 0

    @property
    def stain_matrix(self) -> np.ndarray:
        return np.asarray(self.stains, dtype=np.float64).reshape(3, 2)

    def to_json(self, path=None) -> str:
        text = json.dumps(asdict(self), indent=1)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, text_or_path) -> "StainTarget":
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text).read_text()
        d = json.loads(text)
        return cls(**{k: tuple(np.asarray(v).ravel().tolist()) if isinstance(v, list) else v
                      for k, v in d.items()})


def _macenko_stains(od: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Stain vectors (3 × 2) and concentration maxima from tissue OD rows, or None."""
    if od.shape[0] < MIN_TISSUE_PIXELS:
        return None
    cov = np.cov(od, rowvar=False)
    if not np.isfinite(cov).all():
        return None
    _, vecs = np.linalg.eigh(cov)
    plane = vecs[:, 1:3]  # the two largest
    plane = plane * np.where(plane.sum(axis=0) < 0, -1, 1)  # point into positive OD
    proj = od @ plane
    phi = np.arctan2(proj[:, 1], proj[:, 0])
    lo, hi = np.percentile(phi, [ANGLE_PERCENTILE, 100 - ANGLE_PERCENTILE])
    v1 = plane @ np.array([np.cos(lo), np.sin(lo)])
    v2 = plane @ np.array([np.cos(hi), np.sin(hi)])
    v1, v2 = np.abs(v1) / np.linalg.norm(v1), np.abs(v2) / np.linalg.norm(v2)
    # haematoxylin first: it absorbs red more than eosin does (relative to its blue absorption)
    stains = np.stack([v1, v2], axis=1) if v1[0] / max(v1[2], 1e-6) > v2[0] / max(v2[2], 1e-6) \
        else np.stack([v2, v1], axis=1)
    if abs(np.dot(stains[:, 0], stains[:, 1])) > 0.999:  # one stain only: the plane is degenerate
        return None
    conc = od @ np.linalg.pinv(stains).T
    max_conc = np.percentile(conc, CONC_PERCENTILE, axis=0)
    if (max_conc <= 1e-6).any():
        return None
    return stains, max_conc


def fit_target(image, *, background=None) -> StainTarget:
    """Stain statistics of ``image`` (RGB(A), any dtype, numpy/dask/zarr): both methods' at once.

    With fewer than ``MIN_TISSUE_PIXELS`` tissue pixels the Macenko part falls back to the
    default H&E vectors (and a :class:`StainFitWarning`); Reinhard's part uses every pixel.
    """
    check_rgb(image)
    sample = fit_sample(image)
    rgb = to_unit(sample, scale_of(sample.dtype, sample)).reshape(-1, 3)
    clear = transparent_mask(sample)
    if clear is not None:  # transparent pixels are not part of the specimen
        rgb = rgb[~clear.reshape(-1)]
        if not len(rgb):
            raise StainInputError("the image is fully transparent: no pixels to fit stain statistics on")
    bg = np.asarray(background if background is not None else estimate_background(rgb), dtype=np.float64)
    od = optical_density(rgb, bg)
    tissue = np.linalg.norm(od, axis=1) >= OD_THRESHOLD
    fitted = _macenko_stains(od[tissue])
    if fitted is None:
        warnings.warn(f"only {int(tissue.sum())} tissue pixels: stain vectors could not be estimated, "
                      "using the default H&E vectors", StainFitWarning, stacklevel=2)
        stains = DEFAULT_STAINS
        conc = od[tissue] @ np.linalg.pinv(stains).T if tissue.any() else np.zeros((0, 2))
        max_conc = np.maximum(np.percentile(conc, CONC_PERCENTILE, axis=0) if len(conc) else DEFAULT_MAX_CONC,
                              1e-3)
    else:
        stains, max_conc = fitted
    lab = rgb_to_lab(rgb[tissue] if tissue.sum() >= MIN_TISSUE_PIXELS else rgb)
    return StainTarget(stains=tuple(stains.ravel()), max_conc=tuple(max_conc), lab_mean=tuple(lab.mean(0)),
                       lab_std=tuple(np.maximum(lab.std(0), 1e-3)), background=tuple(bg),
                       tissue_pixels=int(tissue.sum()))


def default_target() -> StainTarget:
    """Macenko's customary H&E reference (no Reinhard statistics: those need a reference image)."""
    return StainTarget(stains=tuple(DEFAULT_STAINS.ravel()), max_conc=tuple(DEFAULT_MAX_CONC),
                       lab_mean=(np.nan,) * 3, lab_std=(np.nan,) * 3)


def align_stains(source: StainTarget, target: StainTarget) -> StainTarget:
    """``source`` with its two stain vectors in the order that best matches ``target``'s.

    Macenko's plane gives two vectors without names; a colour rule (haematoxylin absorbs more
    red) names them, but a stain shift can flip that rule. Between two labs using the same
    stains the vectors differ less than haematoxylin differs from eosin, so the pairing with
    the larger summed cosine is the right one.
    """
    s, t = source.stain_matrix, target.stain_matrix
    keep = (s[:, 0] @ t[:, 0]) + (s[:, 1] @ t[:, 1])
    swap = (s[:, 1] @ t[:, 0]) + (s[:, 0] @ t[:, 1])
    if swap <= keep:
        return source
    from dataclasses import replace

    return replace(source, stains=tuple(s[:, ::-1].ravel()), max_conc=tuple(source.max_conc[::-1]))


def macenko_tile(rgb: np.ndarray, source: StainTarget, target: StainTarget) -> np.ndarray:
    """Normalise one ``(h, w, 3)`` tile in [0, 1] from ``source`` to ``target`` stains."""
    od = optical_density(rgb, source.background).reshape(-1, 3)
    conc = od @ np.linalg.pinv(source.stain_matrix).T
    conc *= np.asarray(target.max_conc) / np.asarray(source.max_conc)
    out = np.asarray(target.background) * np.exp(-(conc @ target.stain_matrix.T))
    return out.reshape(rgb.shape)


def macenko_tile_u8(tile: np.ndarray, source: StainTarget, target: StainTarget) -> np.ndarray:
    """:func:`macenko_tile` for 8-bit RGB(A) tiles, in float32 with the optical densities read from
    a 256-entry table per channel (about twice as fast; same result to within rounding)."""
    levels = np.clip(np.arange(256, dtype=np.float64) / 255, 1.0 / 255, None)
    lut = np.maximum(-np.log(levels[None, :] / np.asarray(source.background)[:, None]), 0).astype(np.float32)
    rgb = np.asarray(tile)[..., :3]
    od = np.stack([lut[c][rgb[..., c]] for c in range(3)], axis=-1).reshape(-1, 3)
    proj = (np.linalg.pinv(source.stain_matrix).T * (np.asarray(target.max_conc) / np.asarray(source.max_conc))) \
        @ target.stain_matrix.T  # OD → target OD in one 3 × 3 matrix
    out = np.exp(-(od @ proj.astype(np.float32)))
    out *= np.asarray(target.background, dtype=np.float32)
    return out.reshape(rgb.shape)


def reinhard_tile(rgb: np.ndarray, source: StainTarget, target: StainTarget) -> np.ndarray:
    """Match CIELAB means and standard deviations of tissue from ``source`` to ``target``.

    The statistics are tissue-only, so background is not pushed through them: pixels fade
    (over optical density 0.05–0.15) to a plain white balance from the source's lamp colour to
    the target's. On paired synthetic stain shifts this halves the error of applying the
    tissue transform everywhere.
    """
    if not np.isfinite(target.lab_mean).all():
        raise ValueError("this target has no CIELAB statistics: fit it on a reference image")
    lab = rgb_to_lab(rgb)
    lab = (lab - np.asarray(source.lab_mean)) / np.asarray(source.lab_std) * np.asarray(target.lab_std) \
        + np.asarray(target.lab_mean)
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # out-of-gamut colours are clipped, as intended
        tissue_rgb = lab_to_rgb(lab)
    odn = np.linalg.norm(optical_density(rgb, source.background), axis=-1)
    w = np.clip((odn - BLEND_OD[0]) / (BLEND_OD[1] - BLEND_OD[0]), 0.0, 1.0)[..., None]
    balanced = rgb * (np.asarray(target.background) / np.asarray(source.background))
    return w * tissue_rgb + (1 - w) * np.clip(balanced, 0, 1)


CLASSICAL = {"macenko": macenko_tile, "reinhard": reinhard_tile}
