import numpy as np
import pytest

from napari_cytoqa.tiling import aggregate, rgb_variance, saturation_variance, tile_weight


def test_rgb_variance_hand_computed():
    tile = np.zeros((2, 2, 3), np.uint8)
    tile[0, 0] = (255, 0, 0)  # R: one of four pixels at 1.0 -> var = 0.1875
    assert rgb_variance(tile) == pytest.approx(0.1875 / 3)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("shape", [(37, 41, 3), (37, 41), (20, 30, 4)])
def test_rgb_variance_integer_fast_path_matches_float_formula(dtype, shape):
    tile = np.random.default_rng(0).integers(0, np.iinfo(dtype).max, size=shape, endpoint=True).astype(dtype)
    if len(shape) == 3 and shape[-1] == 4:
        tile[..., 3] = np.maximum(tile[..., 3], 1)  # alpha 0 would leave the pixel out (tested below)
    t = tile.astype(np.float64) / np.iinfo(dtype).max
    t = t[..., None] if t.ndim == 2 else t[..., :3]
    expected = t.reshape(-1, t.shape[-1]).var(axis=0).mean()
    assert rgb_variance(tile) == pytest.approx(expected, rel=1e-9)


def test_sampled_variance_hand_computed_and_close_on_cell_tiles():
    tile = np.zeros((4, 4, 3), np.uint8)
    tile[1, 1] = (255, 255, 255)  # step 2 reads pixels (1, 1), (1, 3), (3, 1), (3, 3): one of four is 1.0
    tile[0, 0] = (255, 255, 255)  # ... and never (0, 0)
    assert rgb_variance(tile, step=2) == pytest.approx(0.1875)
    assert tile_weight(tile, "rgb_var", step=2) == pytest.approx(0.1875)
    assert rgb_variance(tile) == pytest.approx(2 / 16 - (2 / 16) ** 2)
    with pytest.raises(ValueError, match="step"):
        rgb_variance(tile, step=0)
    from napari_cytoqa.synthetic import fluorescence_series, smear_series

    for series in (smear_series((512, 512), [0, 8], seed=3), fluorescence_series((512, 512), [0, 8], seed=4)):
        for s in series:
            for strategy in ("rgb_var", "sat_var"):
                exact = tile_weight(s.image, strategy)
                for step in (2, 4):
                    assert tile_weight(s.image, strategy, step=step) == pytest.approx(exact, rel=0.03)


def test_saturation_variance_hand_computed():
    tile = np.full((1, 2, 3), 1.0, np.float32)
    tile[0, 1] = (1.0, 0.5, 0.5)  # saturations 0 and 0.5 -> var 0.0625
    assert saturation_variance(tile) == pytest.approx(0.0625)
    assert saturation_variance(np.ones((4, 4), np.float32)) == 0.0


def test_strategies_and_edge_semantics():
    tile = np.zeros((2, 2, 3), np.uint8)
    tile[0, 0] = (255, 0, 0)
    v = 0.1875 / 3
    assert tile_weight(tile, "none") == 1.0
    assert tile_weight(tile, "none", fraction=0.5) == 0.0  # partial tiles are dropped
    assert tile_weight(tile, "size", fraction=0.5) == 0.5
    assert tile_weight(tile, "rgb_var") == pytest.approx(v)
    assert tile_weight(tile, "rgb_var", fraction=0.4) == 0.0
    assert tile_weight(tile, "rgb_var_size", fraction=0.4) == pytest.approx(0.4 * v)
    sat = saturation_variance(tile)
    assert tile_weight(tile, "sat_var_size", fraction=0.25) == pytest.approx(0.25 * sat)
    with pytest.raises(ValueError):
        tile_weight(tile, "median")


def test_aggregate_weighted_mean_and_fallbacks():
    assert aggregate([0.2, 0.8], [1, 3]) == pytest.approx((0.2 + 2.4) / 4)
    assert aggregate([0.2, 0.8], [0, 0]) == pytest.approx(0.5)
    assert aggregate([np.nan, 1.0], [5, 1]) == pytest.approx(1.0)
    assert np.isnan(aggregate([np.nan], [1]))


@pytest.mark.parametrize("strategy", ["rgb_var", "sat_var"])
def test_transparent_and_nan_pixels_do_not_count(strategy):
    """A tile half in a transparent-black frame weighs what its opaque half weighs (the black
    used to inflate its RGB variance); NaN pixels are skipped instead of making the weight NaN,
    which dropped the tile from the slide aggregate."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, np.full((40, 40), 255, np.uint8)])
    rgba[:, 20:] = 0
    half = tile_weight(rgb[:, :20], strategy)
    assert tile_weight(rgba, strategy) == pytest.approx(half)
    f = rgb.astype(np.float32) / 255
    f[:, 20:] = np.nan
    assert tile_weight(f, strategy) == pytest.approx(half, rel=1e-6)
    assert tile_weight(np.zeros((8, 8, 4), np.uint8), strategy) == 0.0  # nothing opaque
