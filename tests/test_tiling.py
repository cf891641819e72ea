import numpy as np
import pytest

from napari_cytoqa.tiling import read_tile, tile_grid, values_to_grid


def test_drop_keeps_only_whole_tiles():
    g = tile_grid((1000, 1200), 500, edge="drop")
    assert g.boxes.tolist() == [[0, 0, 500, 500], [0, 500, 500, 1000],
                                [500, 0, 1000, 500], [500, 500, 1000, 1000]]
    assert np.all(g.fraction == 1)


def test_pad_covers_image_with_real_fraction():
    g = tile_grid((1000, 1200), 500, edge="pad")
    assert len(g) == 6 and (g.n_rows, g.n_cols) == (2, 3)
    assert g.boxes[-1].tolist() == [500, 1000, 1000, 1200]
    assert g.fraction[-1] == pytest.approx(200 / 500)


def test_shift_keeps_full_tiles_inside():
    g = tile_grid((1000, 1200), 500, edge="shift")
    assert g.boxes[-1].tolist() == [500, 700, 1000, 1200]
    assert np.all(g.fraction == 1)


def test_stride_overlap_and_coverage():
    g = tile_grid((300, 300), 128, stride=96, edge="pad")
    covered = np.zeros((300, 300), bool)
    for y0, x0, y1, x1 in g.boxes:
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    assert g.stride == (96, 96)


def test_image_smaller_than_tile():
    assert len(tile_grid((50, 60), 128, edge="drop")) == 0
    g = tile_grid((50, 60), 128, edge="pad")
    assert g.boxes.tolist() == [[0, 0, 50, 60]]


@pytest.mark.parametrize("bad", [dict(tile_size=0), dict(tile_size=8, stride=0),
                                 dict(tile_size=8, edge="wrap")])
def test_bad_arguments(bad):
    with pytest.raises(ValueError):
        tile_grid((10, 10), **bad)


def test_read_tile_pads_with_zeros():
    img = np.ones((10, 10, 3), np.uint8)
    tile = read_tile(img, (8, 8, 10, 10), tile_size=4, pad=True)
    assert tile.shape == (4, 4, 3)
    assert tile[:2, :2].all() and not tile[2:].any() and not tile[:, 2:].any()


def test_read_tile_from_dask_is_numpy():
    da = pytest.importorskip("dask.array")
    arr = da.arange(100, chunks=10).reshape(10, 10)
    tile = read_tile(arr, (2, 3, 4, 6))
    assert isinstance(tile, np.ndarray) and tile.tolist() == [[23, 24, 25], [33, 34, 35]]


def test_values_to_grid():
    g = tile_grid((20, 30), 10)
    out = values_to_grid(g, np.arange(len(g)))
    assert out.tolist() == [[0, 1, 2], [3, 4, 5]]
