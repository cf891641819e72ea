"""Training data for the quality network: synthetic defocus series, self-supervised
degradations of user images (seed 001), and non-cell images for validity (seed 000).

Every sample is a standardised native-resolution crop (see :mod:`napari_cytoqa.quality.crops`)
with a blur level (0–10, −1 for non-cell), validity (1 cell image / 0 not), grade
(0 bad … 3 excellent, −1 for non-cell) and a group id: all versions of one source share it,
so group-aware splits keep them in one fold (seed 000's Sameidx).
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from .._dtypes import cast_to
from ..quality.calibration import GRADES, grade
from ..quality.crops import CROP, normalise_rgb, select_crops
from ..quality.measures import IntensityStats
from ..synthetic import (add_noise, defocus, fluorescence_series, jpeg, smear_series, stain_shift,
                         uneven_illumination)
from ..synthetic.noncell import make_non_cell, photo_crops
from ..synthetic.tissue import tissue_series


@dataclass
class QualitySamples:
    x: np.ndarray       # (N, 3, crop, crop) float16
    blur: np.ndarray    # (N,) int64, -1 = not a cell image
    valid: np.ndarray   # (N,) float32
    grade: np.ndarray   # (N,) int64, -1 = not graded
    group: np.ndarray   # (N,) int64

    def __len__(self):
        return len(self.x)

    @staticmethod
    def concat(parts) -> "QualitySamples":
        parts = [p for p in parts if len(p)]
        return QualitySamples(*(np.concatenate([getattr(p, f) for p in parts])
                                for f in ("x", "blur", "valid", "grade", "group")))


def _crops_of(image, rng, n, crop):
    stats = IntensityStats.from_sample(image, image.dtype)
    norm = normalise_rgb(image, stats)
    h, w = norm.shape[:2]
    pos = [(int(rng.integers(0, max(h - crop, 0) + 1)), int(rng.integers(0, max(w - crop, 0) + 1)))
           for _ in range(3 * n)]
    return select_crops(norm, n=n, crop=crop, positions=pos)[0]


def _degrade(image, rng, jpeg_grade: bool = False, relative: bool = False):
    """A random extra degradation of known magnitude; returns (image, noise sigma in [0, 1] units,
    JPEG quality or None). JPEG quality: uniform in 15–89, or with ``jpeg_grade`` log-uniform in
    5–90 (a quarter at 10 or below, where compression starts to lower the grade). ``relative``
    (user images): noise, JPEG and uneven light relative to the image's own range
    (``relative_to="range"``), JPEG for any dtype; off for the synthetic sources, whose data
    the shipped recipe fixes."""
    kind = rng.integers(0, 6)
    sigma, quality = 0.0, None
    ref = "range" if relative else "full_scale"
    if kind == 0:
        sigma = float(rng.uniform(0.01, 0.12))
        image = add_noise(image, sigma, seed=int(rng.integers(2**31)), relative_to=ref)
    elif kind == 1 and (relative or image.dtype == np.uint8):
        quality = (int(round(np.exp(rng.uniform(np.log(5), np.log(90))))) if jpeg_grade
                   else int(rng.integers(15, 90)))
        image = jpeg(image, quality, relative_to=ref)
    elif kind == 2:
        image = uneven_illumination(image, float(rng.uniform(0.1, 0.5)), seed=int(rng.integers(2**31)),
                                    relative_to=ref)
    elif kind == 3 and image.ndim == 3:
        image = stain_shift(image, float(rng.uniform(0.1, 0.4)), seed=int(rng.integers(2**31)))
    return image, sigma, quality


def _labelled(images_levels, group, rng, n_crops, crop, jpeg_grade=False, relative=False):
    """Crops of each image after one random degradation, labelled by what was done to it: grades
    from the blur level and noise, and with ``jpeg_grade`` from the JPEG quality too."""
    xs, blur, grades = [], [], []
    for image, level in images_levels:
        image, sigma, quality = _degrade(image, rng, jpeg_grade, relative)
        crops = _crops_of(image, rng, n_crops, crop)
        xs.append(crops)
        blur += [level] * len(crops)
        # grades use the noise relative to the image's range: a full-scale sigma is taken as about
        # half that (the synthetic sources span about half of full scale)
        noise = sigma if relative else 2.0 * sigma
        grades += [GRADES.index(grade(level, noise, quality if jpeg_grade else None))] * len(crops)
    n = len(blur)
    return QualitySamples(np.concatenate(xs).astype(np.float16), np.array(blur, np.int64),
                          np.ones(n, np.float32), np.array(grades, np.int64), np.full(n, group, np.int64))


def synthetic_source(index: int, *, size: int = 320, n_crops: int = 2, crop: int = CROP,
                     seed: int = 0, ihc_share: float = 0.0, architecture_share: float = 0.0,
                     jpeg_grade: bool = False) -> QualitySamples:
    """All 11 blur levels of one generated smear, fluorescence field or tissue section (one group).

    ``ihc_share`` of the tissue sources are IHC (hematoxylin + DAB, no eosin) instead of H&E, and
    ``architecture_share`` of them have collagen bundles, regional density and epithelium-like
    zones (``tissue_series(architecture=True)``); at 0 (the shipped model's recipe) no extra random
    number is drawn, so the data stay as they were. ``jpeg_grade``: heavier JPEG and grades that
    count it (see :func:`_degrade`; off in the shipped recipe).
    """
    rng = np.random.default_rng([seed, index])
    scale = float(np.exp(rng.uniform(np.log(0.6), np.log(1.8))))
    if index % 4 == 3:
        kw = dict(seed=int(rng.integers(2**31)), nucleus_density=rng.uniform(5e-4, 3e-3),
                  noise=rng.uniform(0.004, 0.02))
        if ihc_share > 0:
            kw["ihc"] = bool(rng.random() < ihc_share)
        if architecture_share > 0:
            kw["architecture"] = bool(rng.random() < architecture_share)
        series = tissue_series((size, size), range(11), scale=scale, **kw)
    elif index % 4 == 2:
        series = fluorescence_series((size, size), range(11), scale=scale, seed=int(rng.integers(2**31)),
                                     nucleus_density=rng.uniform(3e-4, 2e-3),
                                     dtype=np.uint16 if rng.random() < 0.7 else np.uint8)
    else:
        series = smear_series((size, size), range(11), scale=scale, seed=int(rng.integers(2**31)),
                              cell_density=rng.uniform(1e-4, 7e-4),
                              red_cell_density=rng.uniform(1e-4, 2.5e-3), noise=rng.uniform(0.004, 0.02))
    # the camera's own softness (lens, sensor, demosaicing) is part of an in-focus image
    cam = float(rng.uniform(0.2, 1.0)) if rng.random() < 0.7 else 0.0
    images = [(_soften(s.image, cam), int(s.meta["blur_level"])) for s in series]
    return _labelled(images, index, rng, n_crops, crop, jpeg_grade)


def _soften(image, sigma):
    if sigma <= 0:
        return image
    from scipy import ndimage as ndi

    sig = (sigma, sigma) + (0,) * (image.ndim - 2)
    return cast_to(ndi.gaussian_filter(image.astype(np.float32), sig), image.dtype)


def _all_levels(image, group, rng, n_crops, crop, relative=False) -> QualitySamples:
    """One in-focus image defocused to every level (0–10), each version degraded and labelled."""
    return _labelled([(defocus(image, lv), lv) for lv in range(11)], group, rng, n_crops, crop,
                     relative=relative)


def from_images(images, *, n_crops: int = 2, crop: int = CROP, seed: int = 0,
                group_offset: int = 10**6) -> QualitySamples:
    """Self-supervised samples from in-focus user images: each is defocused to every level and
    degraded (noise, JPEG, illumination, stain), labelled by what was done to it. Noise, JPEG
    and uneven light are relative to each image's own intensity range, so a 16-bit camera image with an offset
    and a narrow signal gets the noise its range implies (before 2026-11-24 they were relative
    to the dtype's full scale: such an image drowned in noise and JPEG left it a few grey levels)."""
    parts = []
    for i, image in enumerate(images):
        rng = np.random.default_rng([seed, i])
        parts.append(_all_levels(np.asarray(image), group_offset + i, rng, n_crops, crop, relative=True))
    return QualitySamples.concat(parts)


def image_windows(image, pixel_size: float, n: int, *, size: int = 320, scale_range=(0.6, 1.8),
                  nominal: float = 0.5, max_upsample: float = 1.25, seed=0) -> list[np.ndarray]:
    """``n`` random ``size`` × ``size`` windows of a real image, each resampled from its
    ``pixel_size`` (µm) to the ``nominal`` one times a log-uniform magnification in ``scale_range``
    — the spread of magnifications the synthetic sources are drawn at — but never enlarged more
    than ``max_upsample`` times: enlarging softens an image that its "level 0" label calls in
    focus. A window that would need more than the image holds is cut at the largest
    magnification that fits. The image is never modified; windows come out in its dtype."""
    from skimage.transform import resize

    image = np.asarray(image)
    if image.ndim not in (2, 3) or min(image.shape[:2]) < 16:
        raise ValueError(f"image_windows needs a 2-D gray or RGB image of at least 16 px, got {image.shape}")
    if not pixel_size > 0:
        raise ValueError(f"pixel_size must be positive, got {pixel_size}")
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    out = []
    for _ in range(n):
        s = float(np.exp(rng.uniform(*np.log(scale_range))))
        src = max(int(round(size * nominal / (pixel_size * s))), int(np.ceil(size / max_upsample)))
        src = min(src, h, w)  # source pixels per window side
        y, x = int(rng.integers(0, h - src + 1)), int(rng.integers(0, w - src + 1))
        win = image[y:y + src, x:x + src]
        if src != size:
            win = cast_to(resize(win.astype(np.float32), (size, size) + win.shape[2:], order=1,
                               anti_aliasing=src > size, preserve_range=True), win.dtype)
        out.append(win)
    return out


def real_image_samples(images, n_windows: int, *, size: int = 320, n_crops: int = 2, crop: int = CROP,
                       seed: int = 0, group_offset: int = 3 * 10**6) -> QualitySamples:
    """Self-supervised samples from real in-focus images with known pixel size: ``images`` is a
    sequence of ``(image, pixel_size_um)``; ``n_windows`` windows of each (:func:`image_windows`)
    are defocused to all 11 levels, each version with one random extra degradation, as the
    synthetic sources are. All windows of one image share a group, so a split never puts parts of
    one real image on both sides."""
    parts = []
    for i, (image, pixel_size) in enumerate(images):
        rng = np.random.default_rng([seed, 11, i])
        for win in image_windows(image, pixel_size, n_windows, size=size, seed=int(rng.integers(2**31))):
            parts.append(_all_levels(win, group_offset + i, rng, n_crops, crop))
    if not parts:
        raise ValueError("real_image_samples needs at least one image and one window")
    return QualitySamples.concat(parts)


def non_cell_samples(n_images: int, *, size: int = 256, n_crops: int = 2, crop: int = CROP,
                     seed: int = 0, group_offset: int = 2 * 10**6) -> QualitySamples:
    rng = np.random.default_rng([seed, 7])
    images = [make_non_cell((size, size), seed=int(rng.integers(2**31))) for _ in range(n_images)]
    images += photo_crops((size, size), n=max(1, n_images // 6), seed=int(rng.integers(2**31)))
    xs = [_crops_of(im, rng, n_crops, crop) for im in images]
    groups = np.concatenate([np.full(len(c), group_offset + i) for i, c in enumerate(xs)])
    n = len(groups)
    return QualitySamples(np.concatenate(xs).astype(np.float16), np.full(n, -1, np.int64),
                          np.zeros(n, np.float32), np.full(n, -1, np.int64), groups.astype(np.int64))


def _one(args):
    return synthetic_source(*args[:1], **args[1])


def build_quality_dataset(n_sources: int, n_non_cell: int, *, size: int = 320, n_crops: int = 2,
                          crop: int = CROP, seed: int = 0, workers: int = 1,
                          user_images=(), ihc_share: float = 0.0, architecture_share: float = 0.0,
                          jpeg_grade: bool = False) -> QualitySamples:
    """Synthetic sources + user images + non-cell images, reproducible for a given seed."""
    jobs = [(i, dict(size=size, n_crops=n_crops, crop=crop, seed=seed, ihc_share=ihc_share,
                     architecture_share=architecture_share, jpeg_grade=jpeg_grade))
            for i in range(n_sources)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_one, jobs, chunksize=4))
    else:
        parts = [_one(j) for j in jobs]
    if len(user_images):
        parts.append(from_images(user_images, n_crops=n_crops, crop=crop, seed=seed))
    parts.append(non_cell_samples(n_non_cell, n_crops=n_crops, crop=crop, seed=seed))
    return QualitySamples.concat(parts)
