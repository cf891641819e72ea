"""Brightfield or fluorescence: the colour check that overrules the luminance rule for dense
stained RGB tissue (:func:`napari_cytoqa.quality.measures.stained_brightfield`)."""
import numpy as np
import pytest

from napari_cytoqa import detect_cells
from napari_cytoqa.detection import polarity_of
from napari_cytoqa.quality import measures
from napari_cytoqa.quality.measures import IntensityStats, stained_brightfield


def _discs(shape, n, radius, rng):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    mask = np.zeros(shape, bool)
    centres = []
    for _ in range(n):
        cy, cx = rng.integers(radius, shape[0] - radius), rng.integers(radius, shape[1] - radius)
        if all((cy - y) ** 2 + (cx - x) ** 2 > (2.2 * radius) ** 2 for y, x in centres):
            centres.append((cy, cx))
            mask |= (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    return mask, len(centres)


def dense_he(seed=0):
    """Purple nuclei packed on pink cytoplasm with a few white gaps: its luminance median sits
    nearer the dark end, like a dense H&E tumour field."""
    rng = np.random.default_rng(seed)
    img = np.empty((256, 256, 3), np.float32)
    img[:] = (190, 110, 165)                                   # eosin-pink cytoplasm
    gaps, _ = _discs((256, 256), 12, 14, rng)
    img[gaps] = (242, 238, 244)                               # white lumina (the lamp)
    yy, xx = np.mgrid[:256, :256]
    nuclei = np.zeros((256, 256), bool)
    for cy in range(6, 256, 17):  # packed on a jittered grid: two fifths of the field
        for cx in range(6, 256, 17):
            y, x = cy + rng.integers(-1, 2), cx + rng.integers(-1, 2)
            nuclei |= (yy - y) ** 2 + (xx - x) ** 2 <= 36
    nuclei &= ~gaps
    img[nuclei] = (70, 40, 120)                               # hematoxylin
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), nuclei


def fluorescence_rgb(hue, offset, seed=0):
    rng = np.random.default_rng(seed)
    nuclei, _ = _discs((256, 256), 60, 7, rng)
    g = np.where(nuclei, 1.0, offset)[..., None] * np.asarray(hue, np.float32)
    return (np.clip(g + rng.normal(0, 0.02, g.shape), 0, 1) * 255).astype(np.uint8)


def test_dense_stained_tissue_is_brightfield_where_luminance_alone_says_fluorescence(monkeypatch):
    img, _ = dense_he()
    assert stained_brightfield(img, 255.0)
    assert IntensityStats.from_sample(img, img.dtype).polarity == "dark_on_light"
    assert polarity_of(img) == "dark_on_light"
    monkeypatch.setattr(measures, "STAIN_CHROMA", np.inf)  # the colour check off: the old verdict
    assert IntensityStats.from_sample(img, img.dtype).polarity == "light_on_dark"


@pytest.mark.parametrize("hue", [(0, 1, 0), (0.1, 0.3, 1), (1, 0, 1)])
@pytest.mark.parametrize("offset", [0.0, 0.3])
def test_fluorescence_composites_stay_fluorescence(hue, offset):
    img = fluorescence_rgb(hue, offset)
    assert not stained_brightfield(img, 255.0)
    assert IntensityStats.from_sample(img, img.dtype).polarity == "light_on_dark"
    assert polarity_of(img) == "light_on_dark"


def test_gray_data_is_never_judged_by_colour():
    img, _ = dense_he()
    gray = measures.luminance(img).astype(np.uint8)
    assert not stained_brightfield(gray, 255.0)
    assert not stained_brightfield(np.repeat(gray[..., None], 3, axis=-1), 255.0)
    assert not stained_brightfield(np.full((64, 64, 3), np.nan, np.float32), 1.0)


def test_otsu_finds_the_nuclei_of_a_dense_stained_field_not_the_cytoplasm():
    img, nuclei = dense_he(seed=1)
    det = detect_cells(img, detector="otsu", diameter=12)
    assert det.labels is not None
    found = det.labels > 0
    # the foreground is the hematoxylin: most of it lies on nuclei (inverted, it would be the pink)
    assert (found & nuclei).sum() > 0.8 * found.sum()
    assert (found & nuclei).sum() > 0.6 * nuclei.sum()
