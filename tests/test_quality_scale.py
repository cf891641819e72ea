"""Analysis scale: binning finely sampled images to the pixel size the quality checks know."""
import numpy as np
import pytest

from napari_cytoqa import assess_quality, read_slide
from napari_cytoqa.quality.scale import bin_factor, bin_tile, resolve_pixel_size, scale_hint
from napari_cytoqa.synthetic import smear_series


def test_bin_factor_is_the_integer_closest_to_the_nominal_size_and_never_enlarges():
    assert [bin_factor(p) for p in (0.5, 0.4, 0.33, 0.25, 0.17, 0.1, 1.0, 2.0)] == [1, 1, 2, 2, 3, 5, 1, 1]
    assert bin_factor(None) == 1
    assert bin_factor(0.25, nominal=1.0) == 4


def test_bin_tile_averages_blocks_in_the_tiles_dtype():
    t = np.arange(5 * 6 * 3, dtype=np.uint16).reshape(5, 6, 3)
    before = t.copy()
    b = bin_tile(t, 2)
    assert b.dtype == np.uint16 and b.shape == (2, 3, 3)  # the odd last row is dropped
    assert b[0, 0, 0] == np.rint(np.mean([t[0, 0, 0], t[0, 1, 0], t[1, 0, 0], t[1, 1, 0]]))
    np.testing.assert_array_equal(t, before)
    assert bin_tile(t, 1) is t
    assert bin_tile(t, 50).shape == (1, 1, 3)  # capped at the shorter side
    f = np.ones((4, 4), np.float32)
    f[0, 0] = np.nan
    bf = bin_tile(f, 2)
    assert bf.dtype == np.float32 and np.isnan(bf[0, 0]) and bf[1, 1] == 1


def test_resolve_pixel_size():
    class FakeSlide:
        pixel_size_um = (0.2, 0.45)

    assert resolve_pixel_size(np.zeros((4, 4)), None) is None
    assert resolve_pixel_size(np.zeros((4, 4)), "auto") is None  # a plain array records none
    assert resolve_pixel_size(FakeSlide(), "auto") == pytest.approx(0.3)  # geometric mean
    assert resolve_pixel_size(None, (0.25, 0.25)) == pytest.approx(0.25)
    for bad in (0, -1, float("nan"), "fine", (1, 2, 3)):
        with pytest.raises(ValueError, match="pixel_size"):
            resolve_pixel_size(None, bad)


def test_fine_pixels_are_judged_at_the_nominal_scale():
    # an in-focus smear drawn at 3x magnification, as a 0.17 um/px scan would show it
    image = smear_series((768, 768), [0], scale=3.0, seed=5)[0].image
    native = assess_quality(image, tile_size=256, precision="fp32")
    binned = assess_quality(image, tile_size=256, precision="fp32", pixel_size=0.17)
    assert native.binning == 1 and native.pixel_size_um is None
    assert binned.binning == 3 and binned.summary()["pixel_size_um"] == pytest.approx(0.17)
    assert binned.verdict == "sharp"
    # at its own pixels every structure is 3x too large and the level reads soft (3.6 when
    # written); binned, it reads close to the truth, 0
    assert binned.blur_level < 1.5 and native.blur_level - binned.blur_level > 1.5
    # the grid and its coordinates are those of the image, whatever the binning
    np.testing.assert_array_equal(native.tiles[["y0", "x0", "y1", "x1"]], binned.tiles[["y0", "x0", "y1", "x1"]])
    # the nominal size itself changes nothing
    same = assess_quality(image, tile_size=256, precision="fp32", pixel_size=0.5)
    assert same.binning == 1
    np.testing.assert_allclose(same.tiles["p_blurry"], native.tiles["p_blurry"])


def test_auto_reads_the_slides_pixel_size_per_level(pyramid_file):
    path, _ = pyramid_file  # 0.25 um/px at level 0, levels at 1x, 2x, 4x
    with read_slide(path) as slide:
        assert assess_quality(slide, tile_size=256, method="classical", pixel_size="auto").binning == 2
        # level 1 is already 0.5 um/px: nothing to bin
        assert assess_quality(slide, tile_size=256, method="classical", level=1, pixel_size="auto").binning == 1
        plain = assess_quality(slide, tile_size=256, method="classical")
        assert plain.binning == 1  # opt-in ...
        # ... but a slide that binning would have changed says so, and what to pass
        assert len(plain.warnings) == 1 and "0.25 µm/px, 2x finer" in plain.warnings[0]
        assert "pixel_size='auto'" in plain.warnings[0] and plain.summary()["warnings"] == plain.warnings
        assert assess_quality(slide, tile_size=256, method="classical", pixel_size="auto").warnings == []
        assert assess_quality(slide, tile_size=256, method="classical", level=1).warnings == []  # 0.5 µm/px
        assert assess_quality(slide, tile_size=256, method="classical", pixel_size=0.25).warnings == []
        assert assess_quality(slide.levels[0], tile_size=256, method="classical").warnings == []  # no pixel size
    assert scale_hint(None) is None and scale_hint(0.4) is None and scale_hint(0.7) is None
    assert "3x finer" in scale_hint(0.17)


@pytest.mark.parametrize("method", ["learned", "classical"])
def test_strong_binning_keeps_every_judged_tile_large_enough(method):
    # 257 px with 128-px tiles leaves a 1-px edge sliver; at 0.05 um/px (10x binning) it used to
    # shrink to nothing and crash both methods
    image = smear_series((257, 257), [0], seed=7)[0].image
    r = assess_quality(image, tile_size=128, pixel_size=0.05, method=method)
    assert r.binning == 10 and len(r.tiles) == 9 and np.isfinite(r.tiles["p_blurry"]).all()
    # an image too small to bin that far keeps MIN_SIDE (16) pixels a side: 40 px -> at most 2x
    assert assess_quality(image[:40, :40], tile_size=128, pixel_size=0.05, method=method).binning == 2
