"""Brightfield stained smears and fluorescence nuclei with instance ground truth.

Brightfield images are formed by Beer–Lambert absorption: each structure
carries concentrations of a nuclear stain, a cytoplasmic stain and an
eosin-like red-cell stain, mixed through a stain style's optical-density
vectors, lit by an uneven lamp. Fluorescence images are emitted photons with
shot and read noise on a camera offset.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from .._dtypes import cast_to
from .chromatin import chromatin_pattern
from .degrade import defocus
from .shapes import blob, boxes_from_labels, footprint, place_centres, stamp, texture, twin_blob

#: Optical-density vectors (R, G, B absorbance) of nuclear, cytoplasmic and red-cell stains.
STAIN_STYLES = {
    "he": np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.10, 0.95, 0.30]]),
    "giemsa": np.array([[0.47, 0.84, 0.27], [0.72, 0.60, 0.35], [0.15, 0.78, 0.60]]),
}
CLASSES = {1: "cell", 2: "red_cell"}


@dataclass
class SyntheticImage:
    """A generated image and its ground truth.

    ``labels`` holds instance ids (0 = background); ``classes[i]`` is the class
    id (see :data:`CLASSES`) of instance ``i + 1``; ``boxes`` are ``(N, 4)``
    ``y0 x0 y1 x1`` in pixels, end exclusive.
    """

    image: np.ndarray
    labels: np.ndarray
    classes: np.ndarray
    boxes: np.ndarray
    kind: str
    meta: dict = field(default_factory=dict)


def _stain_matrix(style, rng):
    if isinstance(style, str):
        if style == "random":
            style = rng.choice(sorted(STAIN_STYLES))
        if style not in STAIN_STYLES:
            raise ValueError(f"unknown stain style {style!r}; choose from {sorted(STAIN_STYLES)} or 'random'")
        base = STAIN_STYLES[style]
    else:
        base = np.asarray(style, dtype=np.float64).reshape(3, 3)
    jitter = np.abs(base + rng.normal(0, 0.04, base.shape))
    return jitter / np.linalg.norm(jitter, axis=1, keepdims=True)


def _smooth_field(shape, rng, scale, amplitude):
    coarse = rng.normal(0, 1, (max(2, shape[0] // scale + 2), max(2, shape[1] // scale + 2)))
    field = ndi.zoom(coarse, (shape[0] / coarse.shape[0] * 1.01, shape[1] / coarse.shape[1] * 1.01), order=3)
    field = field[:shape[0], :shape[1]]
    return amplitude * field / (np.abs(field).max() + 1e-9)


def _draw_cells(conc, labels, centres, rng, next_id):
    classes = []
    for cy, cx, r in centres:
        cyto = blob(r, rng, roughness=0.10)
        region = stamp(conc[..., 1:2], cyto, cy, cx, rng.uniform(0.15, 0.45))
        if region is None:
            continue
        sl, m = region
        labels[sl][m > 0.5] = next_id
        nr = r * rng.uniform(0.4, 0.65)
        lobes = int(rng.choice([0, 0, 0, 2, 3]))
        nuc = blob(nr, rng, roughness=0.15, lobes=lobes)
        nuc *= 1 + 0.25 * texture(nuc.shape, rng)
        off = rng.normal(0, 0.15 * r, 2).astype(int)
        stamp(conc[..., 0:1], np.clip(nuc, 0, None), cy + off[0], cx + off[1], rng.uniform(0.8, 1.5))
        classes.append(1)
        next_id += 1
    return classes, next_id


def _draw_red_cells(conc, labels, centres, rng, next_id):
    classes = []
    for cy, cx, r in centres:
        disc = blob(r, rng, roughness=0.04, elongation=0.1)
        half = disc.shape[0] // 2
        yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
        pallor = 1 - 0.55 * np.exp(-(yy**2 + xx**2) / (0.45 * r) ** 2)
        region = stamp(conc[..., 2:3], disc * pallor, cy, cx, rng.uniform(0.35, 0.6))
        if region is None:
            continue
        sl, m = region
        free = labels[sl] == 0
        labels[sl][(m > 0.5) & free] = next_id
        classes.append(2)
        next_id += 1
    return classes, next_id


def _render_smear(shape, rng, *, cell_density, red_cell_density, debris_density, cell_radius,
                  stain, scale):
    """The clean optical image (float RGB, before optics and camera) and its ground truth."""
    h, w = shape
    stains = _stain_matrix(stain, rng)
    conc = np.zeros((h, w, 3), dtype=np.float64)
    labels = np.zeros((h, w), dtype=np.int32)
    area = h * w / scale**2
    n_cells = rng.poisson(cell_density * area)
    radii = rng.uniform(*cell_radius, n_cells) * scale
    cells = place_centres(n_cells, radii, shape, rng, min_gap=0.8)
    classes, next_id = _draw_cells(conc, labels, cells, rng, 1)
    n_red = rng.poisson(red_cell_density * area)
    red_radii = rng.uniform(5.5, 8.0, n_red) * scale
    reds = place_centres(n_red, red_radii, shape, rng, min_gap=0.9,
                         taken=[(y, x, r) for y, x, r in cells])
    red_classes, _ = _draw_red_cells(conc, labels, reds, rng, next_id)
    for _ in range(rng.poisson(debris_density * area)):
        speck = blob(rng.uniform(0.8, 2.5) * scale, rng, roughness=0.3)
        stamp(conc[..., 0:1], speck, int(rng.uniform(0, h)), int(rng.uniform(0, w)), rng.uniform(0.3, 1.0))
    conc[..., 1] += 0.03 + _smooth_field(shape, rng, 64, 0.02).clip(-0.03, None)  # plasma film
    od = conc @ stains
    lamp = np.array([0.95, 0.93, 0.94]) * rng.uniform(0.9, 1.0)
    illum = 1.0 + _smooth_field(shape, rng, 128, 0.05)
    optical = lamp * illum[..., None] * np.exp(-od)
    return optical, labels, np.array(classes + red_classes, dtype=np.int32), stains


def _smear_image(optical, level, noise, scale, rng):
    blurred = defocus(optical, level, in_focus_psf=True, pixel_size_um=0.5 / scale)
    blurred = blurred + rng.normal(0, noise, blurred.shape)
    return cast_to(blurred * 255, np.uint8)


def smear_series(shape=(512, 512), levels=range(11), *, cell_density: float = 4e-4,
                 red_cell_density: float = 1.2e-3, debris_density: float = 2e-4,
                 cell_radius=(9.0, 16.0), stain="random", noise: float = 0.01, scale: float = 1.0,
                 seed=None) -> list[SyntheticImage]:
    """One smear seen at several blur ``levels`` (a z-series like seed 003's BBBC006).

    ``scale`` is the magnification relative to the default optics (cells ``scale`` × larger in
    pixels, pixel size 0.5/``scale`` µm), so a blur level keeps its meaning in µm of defocus.
    """
    rng = np.random.default_rng(seed)
    optical, labels, classes, stains = _render_smear(
        shape, rng, cell_density=cell_density, red_cell_density=red_cell_density,
        debris_density=debris_density, cell_radius=cell_radius, stain=stain, scale=scale)
    boxes = boxes_from_labels(labels)
    return [SyntheticImage(_smear_image(optical, lv, noise, scale, rng), labels, classes, boxes,
                           "brightfield", {"stains": stains, "blur_level": float(lv),
                                           "pixel_size_um": 0.5 / scale})
            for lv in levels]


def make_smear(shape=(512, 512), *, cell_density: float = 4e-4, red_cell_density: float = 1.2e-3,
               debris_density: float = 2e-4, cell_radius=(9.0, 16.0), stain="random",
               blur_level: float = 0.0, noise: float = 0.01, scale: float = 1.0,
               seed=None) -> SyntheticImage:
    """A brightfield stained smear (``uint8`` RGB) with nucleated cells, red cells and debris.

    Densities are objects per (unscaled) pixel; ``blur_level`` (0–10) defocuses the clean
    optical image through the physical PSF before camera noise is added; ``scale``
    magnifies (see :func:`smear_series`).

    Examples
    --------
    >>> s = make_smear((256, 256), seed=0)
    >>> s.image.shape, s.image.dtype
    ((256, 256, 3), dtype('uint8'))
    """
    return smear_series(shape, [blur_level], cell_density=cell_density,
                        red_cell_density=red_cell_density, debris_density=debris_density,
                        cell_radius=cell_radius, stain=stain, noise=noise, scale=scale, seed=seed)[0]


#: radius (px at scale 1; nuclei are 6-11) and brightness (× the brightest nuclei's) of the
#: fluorescence debris specks (:func:`fluorescence_series`'s ``debris``)
DEBRIS_RADIUS = (0.8, 3.0)
DEBRIS_BRIGHTNESS = (0.05, 0.3)


def _add_debris(signal: np.ndarray, rng: np.random.Generator, expected: float, scale: float, top: float) -> None:
    h, w = signal.shape
    for _ in range(rng.poisson(expected)):
        speck = blob(rng.uniform(*DEBRIS_RADIUS) * scale, rng, roughness=0.3)
        stamp(signal, speck, int(rng.uniform(0, h)), int(rng.uniform(0, w)), rng.uniform(*DEBRIS_BRIGHTNESS) * top)


def fluorescence_series(shape=(512, 512), levels=range(11), *, nucleus_density: float = 1.2e-3,
                        nucleus_radius=(6.0, 11.0), dtype=np.uint16, clustered: float = 0.3,
                        scale: float = 1.0, peak: float = 2500.0, elongation: float = 0.25,
                        brightness=(0.4, 1.0), log_brightness: bool = False,
                        texture_amplitude: float = 0.2, composite: str = "add",
                        min_gap: float = 0.75, haze: float = 0.0, mitotic: float = 0.0,
                        chromatin: float = 0.0, irregular: float = 0.0, debris: float = 0.0,
                        waisted: float = 0.0, seed=None) -> list[SyntheticImage]:
    """One fluorescence field at several blur ``levels`` (see :func:`smear_series`); nuclei's
    aspect ratio is at most ``(1 + elongation) ** 1.5``.

    The defaults are the first recipe's nuclei. Closer to cultured-cell images (BBBC006 /
    DSB-like): ``brightness`` (low, high) of each nucleus, drawn log-uniformly with
    ``log_brightness`` (many dim nuclei beside bright ones); ``texture_amplitude`` of the
    chromatin texture; ``composite="max"`` makes touching nuclei abut (the brighter one shows
    and owns the pixel) instead of adding up into bright overlaps; ``min_gap`` (× the sum of two
    radii) between random centres; ``haze`` adds out-of-focus glow around nuclei (a share of
    their signal blurred by ~2 radii); ``mitotic`` is the share of nuclei drawn as small,
    condensed and 1.5-3× brighter bodies; ``chromatin`` (0..1) gives every nucleus textured
    chromatin (:func:`~.chromatin.chromatin_pattern`: nucleoli, speckles, blotches, a bright rim)
    of a strength drawn from half of it to it, instead of the smooth texture; ``irregular`` is the share of
    nuclei drawn lobed and rough (kidney- and bean-shaped). ``debris``: unlabelled dim specks
    (:data:`DEBRIS_RADIUS`, :data:`DEBRIS_BRIGHTNESS`), on average this many per nucleus, anywhere
    in the field (widefield images' dust and cytoplasmic dots). ``waisted`` is the share of nuclei
    drawn in two overlapping lobes with a waist between them, one nucleus (:func:`~.shapes.twin_blob`).
    At 0 these four draw no random number."""
    if composite not in ("add", "max"):
        raise ValueError(f"composite must be 'add' or 'max', got {composite!r}")
    if not (0 <= chromatin <= 1 and 0 <= irregular <= 1 and 0 <= waisted <= 1):
        raise ValueError(f"chromatin, irregular and waisted must lie in 0..1, got {chromatin}, {irregular} "
                         f"and {waisted}")
    rng = np.random.default_rng(seed)
    h, w = shape
    n = rng.poisson(nucleus_density * h * w / scale**2)
    radii = rng.uniform(*nucleus_radius, n) * scale
    centres = _cluster(place_centres(n, radii, shape, rng, min_gap=min_gap), clustered, rng)
    signal = np.zeros((h, w), dtype=np.float64)
    labels = np.zeros((h, w), dtype=np.int32)
    next_id = 1
    for cy, cx, r in centres:
        condensed = mitotic > 0 and rng.random() < mitotic
        if condensed:
            nuc = blob(r * rng.uniform(0.4, 0.6), rng, roughness=0.08, elongation=1.0)
        elif irregular > 0 and rng.random() < irregular:
            nuc = blob(r, rng, roughness=0.15, elongation=elongation, lobes=int(rng.integers(2, 4)))
        elif waisted > 0 and rng.random() < waisted:
            nuc = twin_blob(r, rng)
        else:
            nuc = blob(r, rng, roughness=0.08, elongation=elongation)
        if chromatin > 0 and not condensed:
            shaped = nuc * chromatin_pattern(nuc, r, rng, strength=chromatin * rng.uniform(0.5, 1.0))
        else:
            shaped = nuc * (1 + texture_amplitude * texture(nuc.shape, rng, sigma=1.2 * scale))
        if log_brightness:
            value = float(np.exp(rng.uniform(np.log(brightness[0]), np.log(brightness[1]))))
        else:
            value = rng.uniform(*brightness)
        if condensed:
            value *= rng.uniform(1.5, 3.0)
        where = footprint(signal.shape, np.clip(shaped, 0, None), cy, cx)
        if where is None:
            continue
        sl, m = where
        if composite == "add":  # overlaps add up; the first nucleus keeps the shared pixels
            labels[sl][(m > 0.5) & (labels[sl] == 0)] = next_id
            signal[sl] += m * value
        else:  # nuclei abut: the brighter one shows and owns the shared pixels
            labels[sl][(m * value > signal[sl]) & (m > 0.5)] = next_id
            np.maximum(signal[sl], m * value, out=signal[sl])
        next_id += 1
    if debris > 0:
        _add_debris(signal, rng, debris * max(next_id - 1, 1), scale, brightness[1])
    if haze > 0:
        signal = signal + haze * ndi.gaussian_filter(signal, 2.0 * float(np.mean(nucleus_radius)) * scale)
    labels, _, _ = _relabel(labels)
    classes = np.ones(int(labels.max()), dtype=np.int32)
    boxes = boxes_from_labels(labels)
    out = []
    for lv in levels:
        blurred = defocus(signal, lv, in_focus_psf=True, pixel_size_um=0.5 / scale)
        photons = rng.poisson(np.clip(blurred, 0, None) * peak + 30.0).astype(np.float64)
        counts = 100.0 + photons + rng.normal(0, 4.0, signal.shape)
        if np.dtype(dtype) == np.uint8:
            counts = counts / 4095.0 * 255.0
        image = cast_to(counts, dtype)
        out.append(SyntheticImage(image, labels, classes, boxes, "fluorescence",
                                  {"blur_level": float(lv), "pixel_size_um": 0.5 / scale}))
    return out


def make_fluorescence(shape=(512, 512), *, nucleus_density: float = 1.2e-3,
                      nucleus_radius=(6.0, 11.0), blur_level: float = 0.0, dtype=np.uint16,
                      clustered: float = 0.3, scale: float = 1.0, seed=None) -> SyntheticImage:
    """A fluorescence field of nuclei (bright on dark) with shot and read noise.

    ``dtype`` is ``uint16`` (12-bit camera counts on an offset) or ``uint8``.
    ``clustered`` is the fraction of nuclei placed touching another.
    """
    return fluorescence_series(shape, [blur_level], nucleus_density=nucleus_density,
                               nucleus_radius=nucleus_radius, dtype=dtype, clustered=clustered,
                               scale=scale, seed=seed)[0]


def _cluster(centres, fraction, rng):
    """Move a ``fraction`` of centres so that they touch their predecessor."""
    out = list(centres[:1])
    for cy, cx, r in centres[1:]:
        if rng.random() < fraction:
            py, px, pr = out[-1]
            angle = rng.uniform(0, 2 * np.pi)
            dist = 0.95 * (r + pr)
            cy, cx = int(py + dist * np.sin(angle)), int(px + dist * np.cos(angle))
        out.append((cy, cx, r))
    return out


def _relabel(labels):
    from skimage.segmentation import relabel_sequential

    return relabel_sequential(labels)
