"""Judging every plane of a stack: assess_planes, PlaneSeries and the plane helpers."""
import numpy as np
import pytest
import tifffile

from napari_cytoqa import assess_planes, assess_quality, compose_sharpest, read_slide
from napari_cytoqa.quality import Cancelled
from napari_cytoqa.quality.compose import sharpest_map
from napari_cytoqa.stacks import plane_levels, series_planes, stack_shape
from napari_cytoqa.synthetic.smear import fluorescence_series


@pytest.fixture(scope="module")
def focus_series():
    """Blur levels 5, 0, 10 (the in-focus plane in the middle of the stack, not first)."""
    return np.stack([s.image for s in fluorescence_series((256, 256), [5, 0, 10], seed=7)])


def test_the_sharpest_plane_of_a_focus_series(focus_series):
    seen = []
    series = assess_planes(focus_series, tile_size=128, method="classical", progress=lambda d, t: seen.append((d, t)))
    assert series.sharpest == (1,)
    t = series.table
    assert t.plane.tolist() == ["0", "1", "2"] and list(series.reports) == [(0,), (1,), (2,)]
    assert t.blur_level[1] < t.blur_level[0] < t.blur_level[2]
    assert t.verdict.tolist()[1] == "sharp" and t.verdict.tolist()[2] == "blurry"
    # each plane is judged exactly as assess_quality judges it alone
    alone = assess_quality(focus_series[2], tile_size=128, method="classical")
    assert series.row(2)["blur_level"] == pytest.approx(alone.blur_level, abs=1e-4)
    assert series.row((2,))["tiles_blurry"] == alone.counts["blurry"]
    # tiles are counted over the whole stack: 4 tiles a plane
    assert seen[-1] == (12, 12) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    with pytest.raises(KeyError, match="plane 7 was not judged"):
        series.row(7)


def test_planes_of_a_slide_match_planes_of_the_array(focus_series, tmp_path):
    path = tmp_path / "z.tif"
    tifffile.imwrite(path, focus_series, photometric="minisblack")
    with read_slide(path) as slide:
        assert stack_shape(slide) == (3,)
        series = assess_planes(slide, planes=[2, 1], tile_size=128, method="classical")
    direct = assess_planes(focus_series, planes=[(2,), (1,)], tile_size=128, method="classical")
    assert series.table.plane.tolist() == ["2", "1"] and series.sharpest == (1,)
    np.testing.assert_allclose(series.table.blur_level, direct.table.blur_level)
    out = series.to_csv(tmp_path / "planes.csv")
    assert out.read_text().splitlines()[0].startswith("plane,verdict,grade,blur_level")


def test_one_axis_of_a_two_axis_stack(focus_series):
    # (Z, C, Y, X): channel 1 is the focus series, channel 0 holds the same planes in reverse
    stack = np.stack([focus_series[::-1], focus_series], axis=1)
    assert stack_shape(stack) == (3, 2) and stack_shape(np.zeros((3, 2, 64, 64, 3))) == (3, 2)
    assert stack_shape(np.zeros((64, 64, 3))) == () and stack_shape([np.zeros((5, 64, 64)), np.zeros((5, 32, 32))]) == (5,)
    planes = series_planes((3, 2), axis=0, at=(0, 1))
    assert planes == [(0, 1), (1, 1), (2, 1)]
    assert series_planes((3, 2), axis=-1) == [(0, 0), (0, 1)] and len(series_planes((3, 2))) == 6
    assert assess_planes(stack, planes=planes, tile_size=128, method="classical").sharpest == (1, 1)
    assert assess_planes(stack, planes=series_planes((3, 2), axis=0), tile_size=128,
                         method="classical").sharpest == (1, 0)
    with pytest.raises(ValueError, match="axis 2 does not exist"):
        series_planes((3, 2), axis=2)
    with pytest.raises(ValueError, match="one index per axis"):
        series_planes((3, 2), axis=0, at=(1,))


def test_plane_levels_of_a_pyramid_that_also_downsamples_its_leading_axis():
    full, half = np.arange(4)[:, None, None] * np.ones((4, 8, 8)), np.arange(0, 4, 2)[:, None, None] * np.ones((2, 4, 4))
    picked = plane_levels([full, half], (3,))
    assert picked[0].shape == (8, 8) and picked[0][0, 0] == 3 and picked[1][0, 0] == 2
    assert plane_levels([full], ()) == [full]


def test_bad_stacks_and_planes_are_clear_errors_and_a_stop_stops(focus_series):
    with pytest.raises(ValueError, match="single 2-D image"):
        assess_planes(focus_series[0], method="classical")
    with pytest.raises(ValueError, match=r"plane \(3,\) is not in a stack of 3 planes"):
        assess_planes(focus_series, planes=[3], method="classical")
    with pytest.raises(ValueError, match="no planes"):
        assess_planes(focus_series, planes=[], method="classical")
    with pytest.raises(Cancelled, match="after 4 of 12 tiles"):
        assess_planes(focus_series, tile_size=128, method="classical", progress=lambda d, t: None,
                      cancel=iter([False] * 2 + [True] * 9).__next__)


def test_tied_planes_are_named(focus_series):
    series = assess_planes(np.stack([focus_series[1], focus_series[0], focus_series[1]]), tile_size=128,
                           method="classical")
    assert series.sharpest == (0,) and series.tied == [(0,), (2,)]  # the same plane twice: a tie
    assert assess_planes(focus_series, tile_size=128, method="classical").tied == [(1,)]


def test_no_sharpest_plane_where_every_plane_is_blank():
    series = assess_planes(np.zeros((2, 64, 64), np.uint8), tile_size=32, method="classical")
    assert series.sharpest is None and series.tied == [] and series.table.verdict.tolist() == ["empty", "empty"]


@pytest.fixture(scope="module")
def halves():
    """Two planes of one field, each in focus on one half (a tilted slide), uint16."""
    [sharp, blurred] = [s.image for s in fluorescence_series((256, 256), [0, 9], seed=3)]
    left, right = sharp.copy(), blurred.copy()
    left[:, 128:], right[:, 128:] = blurred[:, 128:], sharp[:, 128:]
    return sharp, np.stack([left, right])


def test_composite_of_the_sharpest_tiles(halves):
    sharp, stack = halves
    series = assess_planes(stack, tile_size=128, method="classical")
    np.testing.assert_array_equal(sharpest_map(series), [[0, 1], [0, 1]])
    hard = compose_sharpest(stack, series, blend=False)
    assert hard.dtype == np.uint16 and (hard == sharp).all()  # every tile from its in-focus plane
    seen = []
    soft = compose_sharpest(stack, series, blend=True, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(0, 2), (1, 2), (2, 2)] and soft.dtype == np.uint16
    # blended linearly between the tile centres (x = 64 and 192): the planes' own pixels outside them
    assert (soft[:, :64] == sharp[:, :64]).all() and (soft[:, 192:] == sharp[:, 192:]).all()
    f = (np.arange(64, 192) + 0.5 - 64) / 128  # plane 1's weight at each pixel (centre x + 0.5) in between
    expected = (1 - f) * stack[0][:, 64:192] + f * stack[1][:, 64:192]
    assert np.abs(soft[:, 64:192] - expected).max() <= 0.5  # rounded to uint16
    assert assess_quality(soft, tile_size=128, method="classical").blur_level < min(series.table.blur_level)
    # a band (rule BAND): the hand-over in the middle quarter between the centres (x = 112…144), each
    # tile's own plane on either side of it; band 1 is the linear blend, and the extremes are checked
    band = compose_sharpest(stack, series)  # the default since rule BAND passed
    np.testing.assert_array_equal(band, compose_sharpest(stack, series, blend=0.25))
    assert (band[:, :112] == sharp[:, :112]).all() and (band[:, 144:] == sharp[:, 144:]).all()
    g = np.clip(((np.arange(112, 144) + 0.5 - 64) / 128 - 0.5) / 0.25 + 0.5, 0, 1)
    expected = (1 - g) * stack[0][:, 112:144] + g * stack[1][:, 112:144]
    assert np.abs(band[:, 112:144] - expected).max() <= 0.5 and not (band[:, 112:144] == sharp[:, 112:144]).all()
    np.testing.assert_array_equal(compose_sharpest(stack, series, blend=1.0), soft)
    np.testing.assert_array_equal(compose_sharpest(stack, series, blend=1e-9), hard)
    for bad in (1.5, -0.1, "wide", None):
        with pytest.raises(ValueError, match="blend must be"):
            compose_sharpest(stack, series, blend=bad)


def test_composite_of_rgb_slides_and_its_checks(halves, tmp_path, monkeypatch):
    from napari_cytoqa.quality import PlaneSeries, compose

    _, stack = halves
    rgb = np.repeat((stack >> 8).astype(np.uint8)[..., None], 3, axis=-1)  # (Z, Y, X, 3)
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, rgb, photometric="rgb")
    with read_slide(path) as slide:
        series = assess_planes(slide, tile_size=128, method="classical")
        composite = compose_sharpest(slide, series, blend=False)
    assert composite.shape == (256, 256, 3) and composite.dtype == np.uint8
    np.testing.assert_array_equal(composite, compose_sharpest(rgb, series, blend=False))
    with pytest.raises(Cancelled, match="after 1 of 2 planes"):
        compose_sharpest(rgb, series, progress=lambda d, t: None, cancel=iter([False, True]).__next__)
    monkeypatch.setattr(compose, "MAX_PIXELS", 256 * 255)
    with pytest.raises(ValueError, match="too large"):
        compose_sharpest(rgb, series)
    mixed = PlaneSeries.from_reports([((0,), series.reports[(0,)]),
                                      ((1,), assess_quality(rgb[1], tile_size=64, method="classical"))])
    with pytest.raises(ValueError, match="different tile grids"):
        compose_sharpest(rgb, mixed)


def test_detect_in_every_frame_of_a_time_lapse(tmp_path):
    from napari_cytoqa import detect_cells, detect_planes
    from napari_cytoqa.synthetic.smear import fluorescence_series

    fields = [fluorescence_series((256, 256), [0], seed=s)[0] for s in (11, 12, 13)]
    frames = np.stack([f.image for f in fields])  # three frames, different cells
    path = tmp_path / "t.tif"
    tifffile.imwrite(path, frames, photometric="minisblack", resolution=(1e4 / 0.5, 1e4 / 0.5),
                     resolutionunit="CENTIMETER")
    seen = []
    with read_slide(path) as slide:
        found = detect_planes(slide, detector="otsu", tile_size=128, progress=lambda d, t: seen.append((d, t)))
    t = found.table
    alone = [detect_cells(f, detector="otsu", tile_size=128).count for f in frames]
    assert t["count"].tolist() == alone and len(set(alone)) > 1  # each frame as detected alone
    assert t.area_px.tolist() == [256 * 256] * 3 and t.area_mm2.tolist() == pytest.approx([256 * 256 * 0.25e-6] * 3)
    assert t.cells_per_mm2.tolist() == pytest.approx([c / (256 * 256 * 0.25e-6) for c in alone])
    assert seen[-1][0] == seen[-1][1] and seen[-1][1] % 3 == 0
    assert found.row(2)["count"] == found.detections[(2,)].count
    out = found.to_csv(tmp_path / "counts.csv")
    assert out.read_text().splitlines()[0] == "plane,count,area_px,area_mm2,cells_per_mm2,blur_level"
    arrays = detect_planes(frames, planes=[2, 0], detector="otsu", tile_size=128)  # no pixel size: no density
    assert arrays.table.plane.tolist() == ["2", "0"] and arrays.table.cells_per_mm2.isna().all()
    with pytest.raises(KeyError, match="not analysed"):
        arrays.row(1)
    with pytest.raises(ValueError, match="single 2-D image"):
        detect_planes(frames[0], detector="otsu")


def test_annotated_boxes_of_the_plane_on_screen():
    """shapes_boxes (the detection widget's "compare with"): the boxes around an nD Shapes layer's
    shapes on the plane shown, in the image's pixel edges; lines have no area."""
    from napari.layers import Image, Shapes

    from napari_cytoqa._marks import shapes_boxes

    image = Image(np.zeros((3, 40, 50)), scale=(2.0, 0.5, 0.5))
    rect = np.array([[0, 0], [0, 10], [10, 10], [10, 0]], float)
    shapes = Shapes([np.c_[np.full(4, 1.0), rect], np.c_[np.full(4, 2.0), rect + 5], np.array([[1.0, 0, 0], [1, 3, 3]])],
                    shape_type=["rectangle", "rectangle", "line"], scale=image.scale)
    assert shapes_boxes(shapes, image, plane=(1,)).tolist() == [[0.5, 0.5, 10.5, 10.5]]
    assert shapes_boxes(shapes, image, plane=(2,)).tolist() == [[5.5, 5.5, 15.5, 15.5]]
    assert shapes_boxes(shapes, image, plane=(0,)).shape == (0, 4)
