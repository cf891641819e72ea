"""Judging every plane of a stack: assess_planes, PlaneSeries and the plane helpers."""
import numpy as np
import pytest
import tifffile

from napari_cytoqa import assess_planes, assess_quality, read_slide
from napari_cytoqa.quality import Cancelled
from napari_cytoqa.quality.planes import plane_levels, series_planes, stack_shape
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


def test_no_sharpest_plane_where_every_plane_is_blank():
    series = assess_planes(np.zeros((2, 64, 64), np.uint8), tile_size=32, method="classical")
    assert series.sharpest is None and series.table.verdict.tolist() == ["empty", "empty"]
