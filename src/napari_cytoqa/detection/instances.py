"""From foreground probabilities to separated instances, and the classical baseline detector.

Seed 003's U-Net lost most of its recall because touching cells merged when its thresholded
mask became boxes (connected components). Here a foreground mask becomes instances through a
distance-transform watershed: one marker per local maximum of the (smoothed) distance to the
background (local maxima within ``min_distance``, at least ``h`` px deep; maxima closer than
``min_distance`` merged), so two touching round cells become two instances while one elongated
cell stays one.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def _as_gray(image) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[-1] in (3, 4):
        img = img[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    elif img.ndim != 2:
        raise ValueError(f"expected a 2-D gray or RGB(A) image, got shape {img.shape}")
    img = img.astype(np.float64)
    if not np.isfinite(img).all():
        img = np.where(np.isfinite(img), img, np.nanmedian(img))
    return img


def polarity_of(image, *, colour=None, dtype=None) -> str:
    """``"dark_on_light"`` (brightfield) or ``"light_on_dark"`` (fluorescence), from where the
    median sits between the extreme percentiles (background dominates most fields), and for RGB
    images the luminance verdict "fluorescence" is overruled where the colours say stained tissue
    (:func:`~napari_cytoqa.quality.measures.stained_brightfield`). ``colour``: the image whose
    colours are checked, where ``image`` is a gray rendering of it (default: ``image`` itself), and
    ``dtype`` the type whose full scale they are measured against (default: ``colour``'s own)."""
    from ..quality.measures import full_scale, stained_brightfield

    g = _as_gray(image)
    lo, med, hi = np.percentile(g[:: max(1, g.shape[0] // 256), :: max(1, g.shape[1] // 256)], [1, 50, 99])
    if (hi - med) < (med - lo):
        return "dark_on_light"
    arr = np.asarray(image if colour is None else colour)  # dense stained tissue reads as fluorescence by luminance
    fs = full_scale(arr.dtype if dtype is None else dtype, arr)
    return "dark_on_light" if stained_brightfield(arr, fs) else "light_on_dark"


def split_instances(mask, *, min_distance: float = 4.0, h: float = 1.0, min_size: int = 12,
                    smooth: float = 1.0) -> np.ndarray:
    """Instance labels (int32, 0 = background) from a boolean foreground ``mask``."""
    from skimage.segmentation import watershed

    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return np.zeros(mask.shape, np.int32)
    mask = ndi.binary_opening(mask, iterations=1) if mask.sum() > 4 * min_size else mask
    dist = ndi.distance_transform_edt(mask)
    if smooth:
        dist = ndi.gaussian_filter(dist, smooth)
    # markers: local maxima of the distance map within ±min_distance that lie at least h px inside
    size = 2 * int(round(min_distance)) + 1
    peaks = (dist >= ndi.maximum_filter(dist, size=size)) & (dist >= h) & mask
    markers, n = ndi.label(peaks)
    if n > 1 and min_distance > 0:  # merge peaks closer than min_distance (plateau fragments)
        from scipy.spatial import cKDTree

        centres = np.array(ndi.center_of_mass(peaks, markers, range(1, n + 1)))
        keep = np.ones(n, bool)
        order = np.argsort(-dist[tuple(np.rint(centres).astype(int).T)], kind="stable")
        rank = np.empty(n, int)
        rank[order] = np.arange(n)
        near = [[] for _ in range(n)]
        for a, b in cKDTree(centres).query_pairs(min_distance - 1e-9):
            near[a].append(b)
            near[b].append(a)
        for a in order:  # strongest peak first; it suppresses weaker neighbours closer than min_distance
            if keep[a]:
                for b in near[a]:
                    if rank[b] > rank[a]:
                        keep[b] = False
        lut = np.zeros(n + 1, np.int32)
        lut[1:][keep] = np.arange(1, keep.sum() + 1)
        markers = lut[markers]
    labels = watershed(-dist, markers, mask=mask)
    # components the markers missed (tiny or flat) keep their own label
    rest, n_rest = ndi.label(mask & (labels == 0))
    if n_rest:
        labels = np.where(rest > 0, rest + labels.max(), labels)
    return remove_small(labels, min_size)


def remove_small(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Drop instances smaller than ``min_size`` pixels and renumber 1..N (int32)."""
    labels = np.asarray(labels)
    if labels.max() == 0:
        return labels.astype(np.int32)
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_size
    keep[0] = False
    lut = np.zeros(len(sizes), np.int32)
    lut[keep] = np.arange(1, keep.sum() + 1)
    return lut[labels]


def otsu_watershed(image, *, polarity: str | None = None, smooth: float = 1.5, min_size: int = 30,
                   min_distance: float = 6.0, h: float = 1.5) -> np.ndarray:
    """The classical baseline: Gaussian smoothing, Otsu threshold on the cell side of the
    histogram (dark cells on light for brightfield, bright on dark for fluorescence), holes
    filled, then the distance watershed of :func:`split_instances`. Any dtype, gray or RGB."""
    from skimage.filters import threshold_otsu

    g = ndi.gaussian_filter(_as_gray(image), smooth)
    polarity = polarity or polarity_of(image)
    if np.ptp(g) == 0:
        return np.zeros(g.shape, np.int32)
    t = threshold_otsu(g)
    fg = g < t if polarity == "dark_on_light" else g > t
    fg = ndi.binary_fill_holes(fg)
    return split_instances(fg, min_distance=min_distance, h=h, min_size=min_size)


def boxes_from_labels(labels) -> np.ndarray:
    """``(N, 4)`` boxes ``y0 x0 y1 x1`` (end exclusive) of labels 1..max (empty labels give zeros)."""
    from ..synthetic.shapes import boxes_from_labels as _b

    return _b(np.asarray(labels))


def fill_label_holes(labels) -> np.ndarray:
    """A copy of an instance label image with each label's holes filled (holes inside one label
    only; other labels are never overwritten)."""
    out = np.array(labels, copy=True)
    for i, sl in enumerate(ndi.find_objects(out), start=1):
        if sl is not None:
            out[sl][ndi.binary_fill_holes(out[sl] == i) & (out[sl] == 0)] = i
    return out


#: :func:`merge_fragments`' defaults (rule J2, docs/detection.md): two touching instances are one
#: where the border they share is at least ``FRAGMENT_RATIO`` times as long as the smaller one is
#: wide (its equivalent diameter) and, given the U-Net's centre map, that map reaches
#: ``FRAGMENT_SADDLE`` somewhere on the border (a cut through one cell, not a valley between two)
FRAGMENT_RATIO = 1.3
FRAGMENT_SADDLE = 0.45
#: a second way to be one cell (rule W, docs/detection.md; None turns it off): the centre map
#: barely dips between the two — the lower of their two peaks rises less than ``FRAGMENT_DYNAMIC``
#: above the border's highest point — and the border is at least ``FRAGMENT_DYNAMIC_RATIO`` times
#: the smaller one's width
FRAGMENT_DYNAMIC = 0.1
FRAGMENT_DYNAMIC_RATIO = 0.7

#: directions over which a contact's length (its Feret diameter) is measured: within 0.5 %
_ANGLES = np.linspace(0.0, np.pi, 16, endpoint=False)


def contacts(labels) -> tuple[np.ndarray, list[np.ndarray]]:
    """Pairs of touching instances ``(K, 2)`` (``a < b``, 8-neighbourhood) and, for each pair,
    the ``(n, 2)`` pixel coordinates on their shared border (both sides)."""
    labels = np.asarray(labels)
    h, w = labels.shape
    found_lo, found_hi, found_p = [], [], []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        ys, xs = slice(0, h - dy), slice(max(0, -dx), w - max(0, dx))
        a = labels[ys, xs]
        b = labels[dy:, max(0, dx): w + min(0, dx)]
        m = (a > 0) & (b > 0) & (a != b)
        if not m.any():
            continue
        y, x = np.nonzero(m)
        x = x + xs.start
        la, lb = labels[y, x], labels[y + dy, x + dx]
        lo, hi = np.minimum(la, lb), np.maximum(la, lb)
        found_lo += [lo, lo]  # the pixel on each side of the border
        found_hi += [hi, hi]
        found_p += [np.stack([y, x], 1), np.stack([y + dy, x + dx], 1)]
    if not found_lo:
        return np.zeros((0, 2), np.int64), []
    base = int(labels.max()) + 1
    key = np.concatenate(found_lo).astype(np.int64) * base + np.concatenate(found_hi)
    order = np.argsort(key, kind="stable")
    key, pts = key[order], np.concatenate(found_p)[order]
    uniq, start = np.unique(key, return_index=True)
    pairs = np.stack([uniq // base, uniq % base], 1)
    return pairs, [np.unique(p, axis=0) for p in np.split(pts, start[1:])]


def feret_length(points) -> float:
    """Largest extent of a set of pixel coordinates (over 16 directions), counting the pixels
    at both ends (a single pixel is 1 long)."""
    p = np.asarray(points, float)
    proj = p @ np.stack([np.cos(_ANGLES), np.sin(_ANGLES)])
    return float((proj.max(0) - proj.min(0)).max()) + 1.0


def merge_fragments(labels, ratio: float = FRAGMENT_RATIO, *, centre=None, saddle: float = FRAGMENT_SADDLE,
                    rounds: int = 3, dynamic: float | None | str = "auto",
                    dynamic_ratio: float = FRAGMENT_DYNAMIC_RATIO) -> np.ndarray:
    """Join touching instances that are pieces of one object: where the border two instances
    share is at least ``ratio`` times the smaller one's equivalent diameter and, where a
    ``centre`` map is given (the U-Net's, the labels' shape), its maximum on that border is at
    least ``saddle``. Two touching convex cells meet along a border shorter than the smaller one
    is wide unless it lies at least half inside the other, and the centre map dips between
    them; a cell cut in two (along a dark nucleolus, between speckles) leaves pieces whose shared
    border spans the whole cell, through its middle. Each pass joins every instance with at most
    one other (its longest contact relative to width first), so a sliver between two cells cannot
    chain them together; up to ``rounds`` passes (a cell in three pieces). ``dynamic`` (with a
    ``centre`` map; ``"auto"``: :data:`FRAGMENT_DYNAMIC`, None: off) also joins two instances
    whose border is at least ``dynamic_ratio`` times the smaller one's width where the lower of
    their centre-map peaks rises less than ``dynamic`` above the border's highest point: one
    cell's centre map with two weak tops, not two cells with a valley between them. Returns new
    labels 1..N (int32); ``labels`` is not modified."""
    out = np.asarray(labels).astype(np.int32, copy=True)
    centre = None if centre is None else np.asarray(centre)
    dynamic = FRAGMENT_DYNAMIC if isinstance(dynamic, str) and dynamic == "auto" else dynamic
    if centre is None:
        dynamic = None
    for _ in range(rounds):
        pairs, borders = contacts(out)
        if not len(pairs):
            break
        areas = np.bincount(out.ravel())
        width = 2.0 * np.sqrt(np.minimum(areas[pairs[:, 0]], areas[pairs[:, 1]]) / np.pi)
        score = np.array([feret_length(pts) for pts in borders]) / width
        ok = score >= ratio
        if centre is not None:  # a valley between two cells: never joined
            peak = np.array([centre[tuple(pts.T)].max() for pts in borders])
            ok &= peak >= saddle
            if dynamic is not None:  # two weak tops of one centre map
                tops = ndi.maximum(centre, out, np.arange(len(areas)))
                low = np.minimum(tops[pairs[:, 0]], tops[pairs[:, 1]])
                ok |= (low - peak < dynamic) & (score >= dynamic_ratio)
        lut = np.arange(len(areas), dtype=np.int32)
        taken = np.zeros(len(areas), bool)
        candidates = np.flatnonzero(ok)
        for k in candidates[np.argsort(-score[candidates], kind="stable")]:
            a, b = pairs[k]
            if not (taken[a] or taken[b]):
                lut[b], taken[a], taken[b] = a, True, True
        if not taken.any():
            break
        out = lut[out]
    return remove_small(out, 1)
