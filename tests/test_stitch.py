import numpy as np
import pytest

from napari_cytoqa.tiling import blend_window, read_tile, stitch, tile_grid


@pytest.mark.parametrize("blend", ["linear", "mean", "none"])
def test_identity_round_trip(blend):
    rng = np.random.default_rng(0)
    img = rng.random((150, 170, 2))
    grid = tile_grid(img.shape, 64, stride=48, edge="pad")
    out = stitch((read_tile(img, b, tile_size=64, pad=True) for b in grid.boxes), grid, blend=blend)
    np.testing.assert_allclose(out, img)


def test_linear_blend_has_no_seam():
    # each tile predicts a constant equal to its column index: blending must ramp smoothly
    grid = tile_grid((64, 200), 64, stride=40, edge="shift")
    outs = [np.full((64, 64), float(c)) for c in grid.cols]
    out = stitch(outs, grid, blend="linear")
    steps = np.abs(np.diff(out[32]))
    assert steps.max() < 0.1  # "none" would jump by 1 at each border
    hard = stitch(outs, grid, blend="none")
    assert np.abs(np.diff(hard[32])).max() == 1


def test_window_shape_and_positive():
    w = blend_window((32, 16), (8, 4))
    assert w.shape == (32, 16) and w.min() > 0 and w.max() == 1


def test_integer_dtype_preserved():
    img = np.arange(100, dtype=np.uint16).reshape(10, 10)
    grid = tile_grid(img.shape, 4, stride=3, edge="shift")
    out = stitch([read_tile(img, b) for b in grid.boxes], grid)
    assert out.dtype == np.uint16 and np.array_equal(out, img)


def test_no_outputs():
    with pytest.raises(ValueError):
        stitch([], tile_grid((8, 8), 4))
