"""Histology-like tissue sections (H&E or IHC with DAB) with nuclei instance ground truth.

Dense, partly clustered nuclei in a fibrous stroma with gaps, formed by Beer–Lambert
absorption like the smears; ``dab`` adds a brown chromogen on a random subset of cells
(membrane/cytoplasm), as immunohistochemistry does. ``ihc=True`` renders a section the way
IHC slides are actually stained: no eosin (hematoxylin counterstain only, often light), and
DAB on a large share of cells in one of the three usual patterns — membranous (a ring),
cytoplasmic (a filled cell body) or nuclear (the nucleus itself, e.g. Ki-67).
``architecture=True`` gives the section the structure real tissue has beyond scattered nuclei:
wavy collagen bundles split by thin clefts (domain-warped oriented fibres) in an eosin of
widely varying strength, a regional cell density (nucleus-poor stroma beside packed zones),
epithelium-like packed zones whose cells have eosinophilic cytoplasm, and spindle nuclei in
the stroma.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .degrade import defocus
from .chromatin import chromatin_pattern
from .shapes import blob, boxes_from_labels, footprint, place_centres, stamp, texture
from .smear import SyntheticImage, _smooth_field

HEMATOXYLIN = np.array([0.65, 0.70, 0.29])
EOSIN = np.array([0.07, 0.99, 0.11])
DAB = np.array([0.27, 0.57, 0.78])


def _unit(v):
    return v / np.linalg.norm(v)


def _collagen(shape, rng, scale):
    """Wavy collagen bundles (0..1, fine fibrils inside) and the thin clefts between them (bool):
    an oriented smooth field, domain-warped; clefts along its zero crossings."""
    h, w = shape
    angle = rng.uniform(0, 180)
    along = rng.uniform(15, 40) * scale

    def oriented(sigma_across):
        f = ndi.gaussian_filter(rng.normal(0, 1, shape), (sigma_across, along))
        return ndi.rotate(f, angle, reshape=False, mode="reflect")

    field = oriented(rng.uniform(3, 8) * scale)
    fibrils = oriented(0.8 * scale)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    amp = rng.uniform(4, 14) * scale
    coords = [c + _smooth_field(shape, rng, int(48 * scale) + 8, amp) for c in (yy, xx)]
    field = ndi.map_coordinates(field, coords, order=1, mode="reflect")
    fibrils = ndi.map_coordinates(fibrils, coords, order=1, mode="reflect")
    field /= np.abs(field).max() + 1e-9
    clefts = np.abs(field) < rng.uniform(0.02, 0.08)
    bundles = 0.75 + 0.25 * np.tanh(fibrils / (fibrils.std() + 1e-9))
    return bundles, clefts


def _chromatin(mask, radius, rng, strength):
    """Multiplicative stain pattern of one nucleus: textured chromatin, and for about half of
    them a vesicular pale interior (stain falls by 30-70 % inside a rim about a fifth of the radius wide)."""
    pattern = chromatin_pattern(mask, radius, rng, strength=strength * rng.uniform(0.5, 1.0))
    if rng.random() < 0.5:
        inside = ndi.distance_transform_edt(mask > 0.5)
        pale = rng.uniform(0.3, 0.7)
        pattern = pattern * (1 - pale * (1 - np.exp(-inside / max(1.0, radius / 5))))
    return pattern


def tissue_series(shape=(512, 512), levels=range(11), *, nucleus_density: float = 1.5e-3,
                  dab: float | None = None, scale: float = 1.0, noise: float = 0.01,
                  ihc: bool = False, architecture: bool = False, stain_jitter: float = 0.05,
                  stroma_hematoxylin: float = 0.0, chromatin: float = 0.0, seed=None) -> list[SyntheticImage]:
    """One tissue section at several blur levels (see :func:`~.smear.smear_series`);
    ``ihc=True``: hematoxylin + DAB only; ``architecture=True``: collagen bundles, regional
    density, epithelium-like zones (see the module's notes). ``stain_jitter``: standard
    deviation of the random change to each stain's colour vector (real stains drift from the
    textbook vectors colour deconvolution assumes); ``stroma_hematoxylin``: hematoxylin taken up
    by stroma and cytoplasm, as a share of their eosin (real collagen is often purple-tinted);
    ``chromatin`` (0..1): textured nuclei (:func:`~.chromatin.chromatin_pattern`: blotches,
    nucleoli, speckles, a dark rim) of which about half are vesicular — a pale interior inside the
    rim, as in many tumour nuclei; the labels stay whole nuclei. At the defaults no extra random
    number is drawn, so the sections stay as they were."""
    if not 0 <= chromatin <= 1:
        raise ValueError(f"chromatin must lie in 0..1, got {chromatin}")
    rng = np.random.default_rng(seed)
    h, w = shape
    dab = rng.uniform(0, 0.6) if dab is None else dab
    conc = np.zeros((h, w, 3))  # hematoxylin, eosin, DAB
    sigma = (rng.uniform(1, 3) * scale, rng.uniform(4, 12) * scale)
    fibres = ndi.gaussian_filter(rng.normal(0, 1, shape), sigma)
    fibres = np.abs(fibres) / (np.abs(fibres).max() + 1e-9)
    holes = _smooth_field(shape, rng, int(48 * scale) + 8, 1.0) > rng.uniform(0.3, 0.8)
    conc[..., 1] = rng.uniform(0.15, 0.5) * (0.4 + fibres) * ~holes
    hema, pattern = 1.0, None
    density = epithelium = None
    if architecture:
        bundles, clefts = _collagen(shape, rng, scale)
        density = np.exp(_smooth_field(shape, rng, int(64 * scale) + 8, rng.uniform(1.0, 2.5)))
        density /= density.max()
        epithelium = density > rng.uniform(0.5, 0.8)
        stroma = rng.uniform(0.2, 0.7) * bundles * ~clefts * np.where(epithelium, 0.3, 1.0)
        conc[..., 1] = stroma * ~holes
        hema = rng.uniform(0.8, 1.5)
    if ihc:  # no eosin: unstained stroma, at most a faint tint; DAB on many cells in one pattern
        conc[..., 1] *= rng.uniform(0.0, 0.15)
        hema, pattern = rng.uniform(0.35, 1.0), ("membrane", "cytoplasm", "nucleus")[rng.integers(3)]
        dab = rng.uniform(0.2, 0.95)
    if rng.random() < dab:  # a DAB-positive region with fibrillar texture (membranous staining)
        region = _smooth_field(shape, rng, int(96 * scale) + 8, 1.0) > rng.uniform(-0.2, 0.5)
        fib2 = np.abs(ndi.gaussian_filter(rng.normal(0, 1, shape), (0.8 * scale, 3 * scale)))
        conc[..., 2] += region * ~holes * rng.uniform(0.4, 1.2) * (0.3 + fib2 / (fib2.max() + 1e-9))
    labels = np.zeros(shape, dtype=np.int32)
    n = rng.poisson(nucleus_density * h * w / scale**2 * (2.0 if architecture else 1.0))
    radii = rng.uniform(3.5, 8.0, n) * scale
    next_id = 1
    cyto = rng.uniform(0.3, 0.9) if architecture else 0.0
    for cy, cx, r in place_centres(n, radii, shape, rng, min_gap=0.7):
        if holes[min(cy, h - 1), min(cx, w - 1)] and rng.random() < 0.8:
            continue
        inside = (min(cy, h - 1), min(cx, w - 1))
        if density is not None and rng.random() > density[inside]:
            continue  # regional density: nucleus-poor stroma, packed zones
        spindle = density is not None and not epithelium[inside] and rng.random() < 0.5
        nuc = blob(r * (0.85 if spindle else 1.0), rng, roughness=0.12, elongation=1.4 if spindle else 0.6)
        if density is not None and epithelium[inside]:  # a cell body of eosinophilic cytoplasm
            stamp(conc[..., 1:2], blob(r * rng.uniform(1.6, 2.2), rng, roughness=0.15) * cyto, cy, cx, 1.0)
        whole = nuc
        nuc = np.clip(nuc * (1 + 0.3 * texture(nuc.shape, rng)), 0, None)
        if chromatin > 0:
            nuc = nuc * _chromatin(whole, r, rng, chromatin)
        region = stamp(conc[..., 0:1], nuc, cy, cx, rng.uniform(0.5, 1.3) * hema)
        if region is None:
            continue
        sl, m = region
        if chromatin > 0:  # the label is the whole nucleus, not its textured stain
            m = footprint(labels.shape, whole, cy, cx)[1]
        labels[sl][(m > 0.5) & (labels[sl] == 0)] = next_id
        next_id += 1
        if rng.random() < dab:
            if pattern == "nucleus":
                stamp(conc[..., 2:3], nuc, cy, cx, rng.uniform(0.6, 1.6))
                continue
            ring = blob(r * rng.uniform(1.6, 2.4), rng, roughness=0.15)
            if pattern == "membrane":  # the cell's outline: the body minus its eroded interior
                ring = ring - ndi.binary_erosion(ring > 0.5, iterations=max(1, int(round(1.5 * scale))))
                stamp(conc[..., 2:3], np.clip(ring, 0, 1), cy, cx, rng.uniform(0.8, 2.0))
            else:
                stamp(conc[..., 2:3], ring * 0.5, cy, cx, rng.uniform(0.5, 1.5))
    if stroma_hematoxylin:
        conc[..., 0] += stroma_hematoxylin * conc[..., 1]
    stains = np.stack([_unit(v + rng.normal(0, stain_jitter, 3)) for v in (HEMATOXYLIN, EOSIN, DAB)])
    optical = np.exp(-(conc @ np.abs(stains))) * rng.uniform(0.85, 0.98)
    optical *= (1.0 + _smooth_field(shape, rng, 128, 0.04))[..., None]
    boxes = boxes_from_labels(labels)
    classes = np.ones(int(labels.max()), dtype=np.int32)
    out = []
    for lv in levels:
        img = defocus(optical, lv, in_focus_psf=True, pixel_size_um=0.5 / scale)
        img = np.clip(np.rint((img + rng.normal(0, noise, img.shape)) * 255), 0, 255).astype(np.uint8)
        out.append(SyntheticImage(img, labels, classes, boxes, "brightfield",
                                  {"blur_level": float(lv), "pixel_size_um": 0.5 / scale, "dab": dab,
                                   "stain": "IHC" if ihc else "H&E", "dab_pattern": pattern}))
    return out
