import numpy as np
import pytest

from napari_cytoqa.synthetic import (add_noise, dark_ring, defocus, defocus_psf, jpeg, make_fluorescence,
                                     make_smear, over_expose, stain_shift, uneven_illumination)
from napari_cytoqa.synthetic.samples import smear_with_blurry_region


def test_smear_ground_truth_consistent(smear):
    img = smear.image
    assert img.shape == (512, 512, 3) and img.dtype == np.uint8
    n = smear.labels.max()
    assert n == len(smear.classes) == len(smear.boxes) and n > 50
    assert set(np.unique(smear.classes)) <= {1, 2}
    # background is light, nuclei dark: brightfield polarity
    assert np.median(img) > 150 and img[smear.labels > 0].mean() < np.median(img)
    y0, x0, y1, x1 = smear.boxes[0].astype(int)
    assert (smear.labels[y0:y1, x0:x1] == 1).any()


def test_deterministic():
    a, b = make_smear((96, 96), seed=3), make_smear((96, 96), seed=3)
    assert np.array_equal(a.image, b.image)


def test_fluorescence(fluo):
    assert fluo.image.dtype == np.uint16 and fluo.kind == "fluorescence"
    fg, bg = fluo.image[fluo.labels > 0].mean(), fluo.image[fluo.labels == 0].mean()
    assert fg > 3 * bg
    assert make_fluorescence((64, 64), seed=1, dtype=np.uint8).image.dtype == np.uint8


def test_psf_normalised_and_grows_with_defocus():
    radii = []
    for dz in (0.0, 6.0, 12.0, 20.0):
        k = defocus_psf(dz)
        assert k.sum() == pytest.approx(1.0) and k.shape[0] % 2 == 1
        yy, xx = np.indices(k.shape) - k.shape[0] // 2
        r = np.hypot(yy, xx).ravel()
        order = np.argsort(r)
        radii.append(r[order][np.searchsorted(np.cumsum(k.ravel()[order]), 0.5)])  # half-energy radius
    assert np.all(np.diff(radii) > 0)
    # far from focus the PSF approaches the geometric disk of radius R = 20 µm·0.258/0.5 µm,
    # whose half-energy radius is R/sqrt(2)
    assert radii[-1] == pytest.approx(10.33 / np.sqrt(2), rel=0.2)


def test_defocus_levels_monotonic_high_frequency_loss(smear):
    energies = []
    for level in (0, 3, 6, 10):
        g = defocus(smear.image, level).astype(float).mean(-1)
        energies.append(np.abs(np.diff(g, axis=1)).mean())
    assert np.all(np.diff(energies) < 0)
    with pytest.raises(ValueError):
        defocus(smear.image, 11)


@pytest.mark.parametrize("fn", [lambda im: add_noise(im, 0.05, seed=0), lambda im: jpeg(im, 10),
                                lambda im: uneven_illumination(im, seed=0), lambda im: dark_ring(im, seed=0),
                                lambda im: stain_shift(im, seed=0), lambda im: defocus(im, 4),
                                lambda im: over_expose(im, 200)])
def test_degradations_keep_shape_dtype_and_input(fn, smear):
    before = smear.image.copy()
    out = fn(smear.image)
    assert out.shape == before.shape and out.dtype == before.dtype
    assert np.array_equal(smear.image, before)
    assert not np.array_equal(out, before)


def test_degradations_on_16bit_gray(fluo):
    out = defocus(fluo.image, 5)
    assert out.dtype == np.uint16 and out.shape == fluo.image.shape
    assert add_noise(fluo.image, 0.01, seed=1).dtype == np.uint16


def test_over_expose_saturates_above_the_clip_and_scales_below_it(smear, fluo):
    out = over_expose(smear.image, 200)
    below = smear.image.astype(int) < 200
    assert (out[~below] == 255).all()
    np.testing.assert_allclose(out[below], np.round(smear.image[below].astype(float) * 255 / 200), atol=1)
    # 16-bit data of 12 bits stay 12-bit; a series shares one full scale
    img = fluo.image
    top = next(2 ** b - 1 for b in (8, 10, 12, 14, 16) if img.max() < 2 ** b)  # its bit depth
    assert top < 65535
    out = over_expose(img, float(np.quantile(img, 0.99)))
    assert out.dtype == np.uint16 and out.max() == top and (out == top).mean() >= 0.01
    assert over_expose(img, 100.0, full_scale=60000).max() == 60000
    with pytest.raises(ValueError, match="clip"):
        over_expose(smear.image, 300)
    with pytest.raises(ValueError, match="clip"):
        over_expose(smear.image, 0)


def test_dark_ring_darkens_corners_only(smear):
    out = dark_ring(smear.image, radius=0.4, seed=0)
    centre = (slice(240, 270), slice(240, 270))
    assert out[:20, :20].mean() < 20
    assert abs(out[centre].mean() - smear.image[centre].mean()) < 1


def test_stain_shift_rejects_gray():
    with pytest.raises(ValueError):
        stain_shift(np.zeros((8, 8), np.uint8))


def test_blurry_region_sample_has_truth():
    s = smear_with_blurry_region((128, 256), level=8)
    bm = s.meta["blur_map"]
    assert bm[:, 0].max() == 0 and bm[:, -1].min() == 8


def test_ihc_tissue_has_no_eosin_and_stains_with_dab():
    from skimage.color import rgb2hed

    from napari_cytoqa.synthetic.tissue import tissue_series

    patterns, eosin, dab = set(), [], []
    for seed in range(9):
        he = tissue_series((128, 128), [0], dab=0.0, seed=seed)[0]
        ihc = tissue_series((128, 128), [0], ihc=True, seed=seed)[0]
        assert ihc.meta["stain"] == "IHC" and he.meta["stain"] == "H&E"
        assert ihc.image.dtype == np.uint8 and (ihc.labels > 0).any()
        patterns.add(ihc.meta["dab_pattern"])
        eosin.append((rgb2hed(ihc.image)[..., 1].mean(), rgb2hed(he.image)[..., 1].mean()))
        dab.append((rgb2hed(ihc.image)[..., 2].mean(), rgb2hed(he.image)[..., 2].mean()))
    eosin, dab = np.array(eosin), np.array(dab)
    assert (eosin[:, 0] < eosin[:, 1]).all()  # no eosin counterstain in IHC
    assert (dab[:, 0] > dab[:, 1]).all()  # the brown chromogen is there
    assert patterns == {"membrane", "cytoplasm", "nucleus"}


def test_quality_data_ihc_share_is_opt_in():
    """ihc_share=0 keeps the shipped recipe's data; ihc_share=1 stains every tissue source as IHC."""
    from napari_cytoqa.training.quality_data import synthetic_source

    base = synthetic_source(3, size=128, n_crops=1, crop=48)
    again = synthetic_source(3, size=128, n_crops=1, crop=48, ihc_share=0.0)
    ihc = synthetic_source(3, size=128, n_crops=1, crop=48, ihc_share=1.0)
    assert np.array_equal(base.x, again.x)
    assert not np.array_equal(base.x, ihc.x)
    assert np.array_equal(base.blur, ihc.blur) and len(ihc) == len(base)
    smear = synthetic_source(4, size=128, n_crops=1, crop=48)  # not a tissue source: unaffected
    assert np.array_equal(smear.x, synthetic_source(4, size=128, n_crops=1, crop=48, ihc_share=1.0).x)


def test_tissue_architecture_is_opt_in_and_varies_density():
    """architecture=True: clefts (unstained lines) through the stroma, nucleus-poor and packed
    regions; the default (False) leaves the generator's output as it was, bit for bit."""
    from napari_cytoqa.synthetic.tissue import tissue_series
    from napari_cytoqa.training.quality_data import synthetic_source

    spread = []
    for seed in range(4):
        plain = tissue_series((256, 256), [0], dab=0.0, seed=seed)[0]
        again = tissue_series((256, 256), [0], dab=0.0, architecture=False, seed=seed)[0]
        assert np.array_equal(plain.image, again.image) and np.array_equal(plain.labels, again.labels)
        arch = tissue_series((256, 256), [0], dab=0.0, architecture=True, seed=seed)[0]
        assert np.array_equal(arch.image, tissue_series((256, 256), [0], dab=0.0, architecture=True,
                                                        seed=seed)[0].image)  # reproducible
        assert arch.boxes.shape[0] == arch.labels.max() > 0
        # nuclei per 64-px block: the regional density makes blocks far more unequal
        for img, kind in ((plain, 0), (arch, 1)):
            counts = [len(np.unique(img.labels[y:y + 64, x:x + 64])) - 1 for y in range(0, 256, 64)
                      for x in range(0, 256, 64)]
            spread.append((kind, np.std(counts) / (np.mean(counts) + 1e-9)))
    cv = {k: np.mean([v for kk, v in spread if kk == k]) for k in (0, 1)}
    assert cv[1] > 1.5 * cv[0], cv
    base = synthetic_source(3, size=128, n_crops=1, crop=48)
    assert np.array_equal(base.x, synthetic_source(3, size=128, n_crops=1, crop=48, architecture_share=0.0).x)
    assert not np.array_equal(base.x, synthetic_source(3, size=128, n_crops=1, crop=48, architecture_share=1.0).x)
    assert np.array_equal(base.grade, synthetic_source(3, size=128, n_crops=1, crop=48, jpeg_grade=False).grade)


def test_jpeg_grade_data_compress_harder_and_grade_what_they_compress():
    from napari_cytoqa.quality.calibration import grade
    from napari_cytoqa.training.quality_data import _degrade, synthetic_source

    assert [grade(0, 0, q) for q in (None, 90, 13, 12, 7, 6, 1)] == ["excellent", "excellent", "excellent", "good",
                                                                      "good", "fair", "fair"]
    assert grade(6, 0.1, 6) == "bad" and grade(0, 0.1, 12) == "fair"
    img = make_smear((96, 96), seed=2).image
    qualities = []
    for seed in range(300):
        _, _, q = _degrade(img, np.random.default_rng(seed), jpeg_grade=True)
        _, _, q_old = _degrade(img, np.random.default_rng(seed))
        assert (q is None) == (q_old is None)  # the same kind of degradation drawn (later draws may differ)
        if q is not None:
            qualities.append(q)
            assert 15 <= q_old < 90
    qualities = np.array(qualities)
    assert qualities.min() >= 5 and qualities.max() <= 90 and 0.15 < (qualities <= 10).mean() < 0.35
    from napari_cytoqa.training.quality_data import _labelled

    seed = next(s for s in range(300) if (_degrade(img, np.random.default_rng(s), jpeg_grade=True)[2] or 99) <= 6)
    heavy = _labelled([(img, 0)], 0, np.random.default_rng(seed), 1, 48, jpeg_grade=True)
    unlabelled = _labelled([(img, 0)], 0, np.random.default_rng(seed), 1, 48)  # JPEG never lowers a grade by default
    assert heavy.grade.tolist() == [1] and unlabelled.grade.tolist() == [3]  # fair / excellent
    # smear sources (8-bit): the same blur and validity labels
    for i in (0, 1, 4, 5):
        a = synthetic_source(i, size=128, n_crops=1, crop=48, jpeg_grade=True)
        b = synthetic_source(i, size=128, n_crops=1, crop=48)
        assert (a.blur == b.blur).all() and (a.valid == b.valid).all() and len(a) == len(b)


def test_fluorescence_realism_options():
    """composite='max' makes touching nuclei abut (no bright sums, each pixel owned by the brighter
    one); log brightness spreads nuclei down to the low bound; mitotic nuclei are small."""
    from skimage.measure import regionprops

    from napari_cytoqa.synthetic import fluorescence_series

    kw = dict(nucleus_density=3e-3, clustered=1.0, min_gap=0.5, peak=4000.0, seed=7)
    add = fluorescence_series((192, 192), [0], composite="add", **kw)[0]
    top = fluorescence_series((192, 192), [0], composite="max", **kw)[0]
    assert top.image.max() < add.image.max()  # overlaps no longer add up
    assert top.labels.max() > 20 and len(top.boxes) == top.labels.max()
    with pytest.raises(ValueError, match="composite"):
        fluorescence_series((32, 32), [0], composite="over")

    def spread(**extra):
        s = fluorescence_series((256, 256), [0], seed=3, texture_amplitude=0.0, **extra)[0]
        means = [p.intensity_mean for p in regionprops(s.labels, s.image.astype(float) - 130)]
        return np.percentile(means, 5) / np.percentile(means, 95), np.median([p.area for p in regionprops(s.labels)])

    (narrow, area), (wide, _) = spread(), spread(brightness=(0.1, 1.0), log_brightness=True)
    assert narrow > 0.35 and wide < 0.25
    _, small = spread(mitotic=1.0)
    assert small < 0.5 * area


def test_image_windows_resample_to_nominal_scale_and_never_enlarge_much():
    from napari_cytoqa.training.quality_data import image_windows

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (600, 500, 3), dtype=np.uint8)
    before = image.copy()
    wins = image_windows(image, 0.25, 6, size=64, seed=1)
    assert len(wins) == 6 and all(w.shape == (64, 64, 3) and w.dtype == np.uint8 for w in wins)
    np.testing.assert_array_equal(image, before)  # the image is never modified
    # at scale 1 (scale_range pinned) a 0.25 µm/px image is halved: 128 source pixels per window side
    w = image_windows(image, 0.25, 1, size=64, scale_range=(1.0, 1.0), seed=2)[0]
    assert w.std() < image.std() * 0.8  # averaging 2x2 blocks of noise lowers its spread
    # a coarse image is enlarged at most max_upsample times: the window covers >= size/1.25 source px
    coarse = np.zeros((100, 100), np.uint16)
    coarse[::2] = 1000  # stripes of period 2 px: visible after a <= 1.25x enlargement, not after 4x
    w = image_windows(coarse, 2.0, 1, size=80, scale_range=(1.0, 1.0), seed=3)[0]
    assert w.dtype == np.uint16 and w.shape == (80, 80)
    assert np.abs(np.diff(w.astype(float), axis=0)).mean() > 400  # 476 here; 187 if enlarged 4x
    # a window bigger than the image is cut at the largest magnification that fits
    assert image_windows(image[:40, :40], 0.5, 1, size=64, seed=4)[0].shape == (64, 64, 3)
    with pytest.raises(ValueError, match="pixel_size"):
        image_windows(image, 0.0, 1)
    with pytest.raises(ValueError, match="2-D gray or RGB"):
        image_windows(np.zeros((4, 30, 30, 3), np.uint8), 0.5, 1)


def test_real_image_samples_cover_every_level_with_one_group_per_image():
    from napari_cytoqa.training.quality_data import real_image_samples

    rng = np.random.default_rng(0)
    images = [(rng.integers(0, 256, (200, 200, 3), dtype=np.uint8), 0.5),
              (rng.integers(0, 4096, (150, 150), dtype=np.uint16), 1.0)]
    s = real_image_samples(images, 2, size=128, n_crops=1, seed=0)
    assert len(s) == 2 * 2 * 11 and s.x.shape[1:] == (3, 96, 96)
    assert sorted(np.unique(s.group)) == [3 * 10**6, 3 * 10**6 + 1]
    assert (s.valid == 1).all() and sorted(np.unique(s.blur)) == list(range(11))
    assert ((s.grade >= 0) & (s.grade <= 3)).all()
    again = real_image_samples(images, 2, size=128, n_crops=1, seed=0)
    np.testing.assert_array_equal(s.x, again.x)  # seeded
    with pytest.raises(ValueError, match="at least one"):
        real_image_samples([], 2)


def _offset_16bit(fluo):
    """A camera-like 16-bit image: a 33,000 offset and about 1,300 counts of signal (CTC-style)."""
    g = np.asarray(fluo.image, np.float64)
    return (33000 + 1300 * (g - g.min()) / np.ptp(g)).astype(np.uint16)


def test_noise_and_jpeg_relative_to_the_image_range(fluo):
    from napari_cytoqa.synthetic import add_noise, jpeg

    img = _offset_16bit(fluo)
    lo, hi = np.percentile(img, [0.5, 99.5])
    noisy = add_noise(img, 0.02, seed=1, relative_to="range").astype(float) - img
    assert abs(noisy.std() / (hi - lo) - 0.02) < 0.003
    full = add_noise(img, 0.02, seed=1).astype(float) - img  # of 65535: the signal drowns
    assert full.std() > (hi - lo) / 2
    assert len(np.unique(jpeg(img, 90))) <= 12  # 8 bits of full scale: a handful of grey levels
    rel = jpeg(img, 90, relative_to="range")
    assert rel.dtype == np.uint16 and len(np.unique(rel)) > 100
    assert np.abs(rel.astype(float) - img).mean() < 0.02 * (hi - lo)
    with pytest.raises(ValueError, match="relative_to"):
        add_noise(img, relative_to="bits")


def test_self_supervised_user_images_get_noise_their_range_implies(fluo):
    from napari_cytoqa.training.quality_data import _degrade, from_images

    img = _offset_16bit(fluo)
    lo, hi = np.percentile(img, [0.5, 99.5])
    seen = set()
    for seed in range(40):
        out, sigma, quality = _degrade(img, np.random.default_rng(seed), relative=True)
        change = np.abs(out.astype(float) - img).std() / (hi - lo)
        assert change < 0.15, (seed, sigma, quality, change)  # never swamped (full scale: > 0.5)
        seen.add("noise" if sigma else "jpeg" if quality else "other")
    assert {"noise", "jpeg"} <= seen  # JPEG now reaches 16-bit user images too
    s = from_images([img], n_crops=1, crop=48)
    assert len(s) == 11 and sorted(s.blur.tolist()) == list(range(11)) and np.isfinite(s.x.astype(float)).all()


def test_fluorescence_debris_is_dim_small_and_unlabelled():
    """debris= adds specks outside the truth (labels and boxes unchanged, background brighter in
    places) that are small and dim beside the nuclei; recipe 5 turns it on, recipe 3 does not."""
    from scipy import ndimage as ndi

    from napari_cytoqa.synthetic import fluorescence_series
    from napari_cytoqa.synthetic.smear import DEBRIS_RADIUS

    kw = dict(nucleus_density=1e-3, peak=4000.0, seed=11, texture_amplitude=0.0)
    clean = fluorescence_series((256, 256), [0], **kw)[0]
    dusty = fluorescence_series((256, 256), [0], debris=3.0, **kw)[0]
    np.testing.assert_array_equal(clean.labels, dusty.labels)
    np.testing.assert_array_equal(clean.boxes, dusty.boxes)
    signal = ndi.gaussian_filter(dusty.image.astype(float), 1.0) - ndi.gaussian_filter(clean.image.astype(float), 1.0)
    specks, n = ndi.label((signal > 60) & (clean.labels == 0))
    assert n >= 10  # specks in the background
    sizes = ndi.sum(np.ones_like(signal), specks, np.arange(1, n + 1))
    assert np.median(sizes) < np.pi * (2 * DEBRIS_RADIUS[1]) ** 2
    nuclei = np.median(clean.image[clean.labels > 0].astype(float)) - 130
    assert ndi.maximum(signal, specks, np.arange(1, n + 1)).max() < nuclei
    assert fluorescence_series((64, 64), [0], seed=2)[0].image.tobytes() == \
        fluorescence_series((64, 64), [0], seed=2, debris=0.0)[0].image.tobytes()
    seen = recipe_setting("debris", (3, 5))
    assert seen[3] == 0.0 and 0.0 < seen[5] <= 1.0


def recipe_setting(name: str, recipes) -> dict:
    """The ``fluorescence_series`` keyword ``name`` that a fluorescence scene of each recipe is drawn
    with (0.0 where the recipe leaves it out)."""
    from napari_cytoqa.detection.unet_task import scene_series
    from napari_cytoqa.synthetic import fluorescence_series

    seen = {}
    for recipe in recipes:
        def capture(*args, **kwargs):
            seen[recipe] = kwargs.get(name, 0.0)
            return fluorescence_series(*args, **kwargs)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("napari_cytoqa.detection.unet_task.fluorescence_series", capture)
            scene_series(np.random.default_rng(4), 1, (64, 64), [0], recipe=recipe)
    return seen


def test_waisted_nuclei_are_one_label_in_two_lobes():
    """waisted= draws nuclei as two overlapping lobes with a waist, each one label (concave: its convex
    hull is clearly larger than it); at 0 nothing changes; recipe 6 turns it on, recipe 3 does not."""
    from skimage.measure import regionprops

    from napari_cytoqa.synthetic import fluorescence_series
    from napari_cytoqa.synthetic.shapes import twin_blob

    mask = twin_blob(10.0, np.random.default_rng(0)) > 0.5
    assert mask.shape[0] == mask.shape[1] and mask.sum() > np.pi * 7**2  # two lobes of 7-8.5 px
    kw = dict(nucleus_density=6e-4, seed=3, elongation=0.0, min_gap=1.2)
    plain = fluorescence_series((256, 256), [0], **kw)[0]
    twins = fluorescence_series((256, 256), [0], waisted=1.0, **kw)[0]
    solidity = lambda s: np.median([r.solidity for r in regionprops(s.labels)])  # noqa: E731
    assert solidity(twins) < 0.95 < solidity(plain)
    assert len(np.unique(twins.labels)) - 1 == len(twins.boxes) > 10  # one label per nucleus
    assert fluorescence_series((64, 64), [0], seed=2)[0].image.tobytes() == \
        fluorescence_series((64, 64), [0], seed=2, waisted=0.0)[0].image.tobytes()
    with pytest.raises(ValueError, match="waisted"):
        fluorescence_series((64, 64), [0], waisted=1.5)
    seen = recipe_setting("waisted", (3, 6))
    assert seen[3] == 0.0 and 0.15 <= seen[6] <= 0.35
