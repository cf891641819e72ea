"""Sparse and empty fields: detection statistics and what the detectors find there."""
import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_cytoqa.detection.sparse import MIN_SIGNAL_SIGMA, detection_stats, noise_sigma
from napari_cytoqa.quality.measures import IntensityStats
from napari_cytoqa.synthetic import fluorescence_series, smear_series


def _field(kind, cells: bool):
    """One cell on a 256² field (under 0.5 % of the pixels), or an empty field of that kind."""
    if kind == "fluorescence":
        return fluorescence_series((256, 256), [0], nucleus_density=3e-5, seed=2 if cells else 3)[0]
    return smear_series((256, 256), [0], cell_density=2e-5, red_cell_density=0.0, debris_density=0.0,
                        seed=9 if cells else 6)[0]


@pytest.mark.parametrize("make", [fluorescence_series, smear_series])
def test_dense_fields_keep_the_percentile_statistics_exactly(make):
    for s in make((256, 256), [0, 8], seed=11):
        img = np.asarray(s.image)
        assert detection_stats(img, img.dtype) == IntensityStats.from_sample(img, img.dtype)


def test_noise_sigma_measures_the_noise_not_the_structures():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:256, :256]
    structure = 100 * (((y - 128) ** 2 + (x - 128) ** 2) < 40 ** 2) + 0.3 * x
    assert noise_sigma(structure + rng.normal(0, 2.0, structure.shape)) == pytest.approx(2.0, rel=0.1)


@pytest.mark.parametrize("kind", ["fluorescence", "smear"])
def test_a_lone_cell_sets_the_signal_end_and_the_polarity(kind):
    s = _field(kind, cells=True)
    img = np.asarray(s.image)
    assert len(s.boxes) == 1 and (s.labels > 0).mean() < 0.005
    plain, ours = IntensityStats.from_sample(img, img.dtype), detection_stats(img, img.dtype)
    lum = img.astype(float) if img.ndim == 2 else img.astype(float) @ [0.299, 0.587, 0.114]
    sigma = noise_sigma(lum)
    if kind == "fluorescence":
        assert ours.polarity == "light_on_dark"
        assert ours.high >= np.percentile(lum[s.labels > 0], 50)  # ours reaches into the nucleus
    else:
        assert plain.polarity == "light_on_dark"  # the uneven light outweighs the lone cell
        assert ours.polarity == "dark_on_light"
        assert ours.low <= np.percentile(lum[s.labels > 0], 50) < plain.low


@pytest.mark.parametrize("level, polarity", [(40, "light_on_dark"), (120, "light_on_dark"),
                                             (200, "dark_on_light")])
def test_an_empty_field_keeps_its_noise_faint(level, polarity):
    rng = np.random.default_rng(1)
    y, x = np.mgrid[:256, :256]
    light = 4 * np.sin(x / 60) * np.cos(y / 45)  # uneven light, over hundreds of pixels
    img = np.clip(rng.normal(level, 3, (256, 256)) + light, 0, 255).astype(np.uint8)
    ours = detection_stats(img, img.dtype)
    assert ours.range >= MIN_SIGNAL_SIGMA * 3 * 0.9
    assert IntensityStats.from_sample(img, img.dtype).range < 30
    # no object to tell: a bright blank field is brightfield, a dark one fluorescence
    assert ours.polarity == polarity


@pytest.mark.parametrize("kind", ["fluorescence", "smear"])
def test_unet_finds_the_lone_cell_and_nothing_in_an_empty_field(kind):
    from unittest import mock

    from napari_cytoqa.detection import detect_cells, sparse, unet_task

    s, empty = _field(kind, cells=True), _field(kind, cells=False)
    assert len(empty.boxes) == 0
    det = detect_cells(s.image, detector="unet", routing="sharp")
    assert det.count == 1
    assert np.abs(det.boxes[0] - s.boxes[0]).max() <= 4
    assert detect_cells(empty.image, detector="unet", routing="sharp").count == 0
    # the plain percentile statistics stretch the noise: hundreds of "cells" in the empty fields
    # (753 fluorescence, 499 smear), and in the lone cell's smear (868)
    def plain_only(sample, dtype):
        plain = IntensityStats.from_sample(sample, dtype)
        return plain, plain

    with mock.patch.object(unet_task, "plain_and_detection_stats", plain_only), \
            mock.patch.object(sparse, "NOISE_TARGET_SIGMA", 0):
        assert detect_cells(empty.image, detector="unet", routing="sharp").count > 100


@pytest.mark.parametrize("kind", ["fluorescence", "smear"])
def test_the_classical_detector_is_not_cut_through_the_noise(kind):
    from unittest import mock

    from napari_cytoqa.detection import detect_cells, sparse

    s, empty = _field(kind, cells=True), _field(kind, cells=False)
    det = detect_cells(s.image, detector="otsu")
    assert det.count == 1 and np.abs(det.boxes[0] - s.boxes[0]).max() <= 4
    # a blank smear's darkest stain patch can still pass: at most one
    assert detect_cells(empty.image, detector="otsu").count <= (0 if kind == "fluorescence" else 1)
    dense = smear_series((256, 256), [0], seed=4)[0].image
    with mock.patch.object(sparse, "sparse_otsu", lambda sample, dtype, polarity, threshold: (polarity, threshold)):
        assert detect_cells(empty.image, detector="otsu").count > 5  # Otsu's plain cut: noise blobs
        before = detect_cells(dense, detector="otsu")
    after = detect_cells(dense, detector="otsu")  # a dense field: the very same cut
    np.testing.assert_array_equal(after.boxes, before.boxes)


def test_noisy_tiles_are_smoothed_to_the_training_noise_and_clean_ones_left_alone():
    from napari_cytoqa.detection.sparse import NOISE_TARGET_SIGMA, match_training_noise

    rng = np.random.default_rng(2)
    s = fluorescence_series((256, 256), [0], seed=5)[0]
    clean = np.asarray(s.image)
    stats = IntensityStats.from_sample(clean, clean.dtype)
    assert match_training_noise(clean, stats) is clean  # 180-250 σ: as it is
    noise = stats.range / 15
    noisy = clean.astype(np.float32) + rng.normal(0, noise, clean.shape).astype(np.float32)
    noisy[:8, :8] = np.nan  # transparent pixels stay transparent
    out = match_training_noise(noisy, stats)
    assert out.shape == noisy.shape and np.isnan(out[:8, :8]).all() and np.isfinite(out[8:, 8:]).all()
    assert np.isfinite(noisy[8:, 8:]).all()  # the input is not modified
    # flat background, away from the nuclei and the transparent corner: the noise left
    background = (ndi.maximum_filter(s.labels, 25) == 0) & (np.add.outer(np.arange(256), np.arange(256)) > 60)
    assert np.std((out - clean)[background]) == pytest.approx(stats.range / NOISE_TARGET_SIGMA, rel=0.35)
    assert np.std((noisy - clean)[background]) == pytest.approx(noise, rel=0.1)


def test_denoise_stops_the_unet_counting_photon_noise_in_a_dim_field():
    from napari_cytoqa.detection import detect_cells

    s = fluorescence_series((256, 256), [0], peak=60.0, seed=12)[0]  # training fields: peaks 300-4000
    plain = detect_cells(s.image, detector="unet", routing="blur", denoise=False)
    smoothed = detect_cells(s.image, detector="unet", routing="blur", denoise=True)
    assert plain.count > 2 * len(s.boxes)  # 272 for 70 nuclei
    assert abs(smoothed.count - len(s.boxes)) <= 0.15 * len(s.boxes)
    # "auto" (default): the sharp U-Net only; the combined U-Net counts this field well as it is
    assert detect_cells(s.image, detector="unet", routing="blur").count == smoothed.count
    combined = detect_cells(s.image, detector="unet", routing="combined", denoise="auto")
    assert combined.count == detect_cells(s.image, detector="unet", routing="combined", denoise=False).count
    with pytest.raises(ValueError, match="denoise"):
        detect_cells(s.image, detector="otsu", denoise=True)
    with pytest.raises(ValueError, match="denoise"):
        detect_cells(s.image, detector="unet", denoise="always")
