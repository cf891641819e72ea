import numpy as np
import pytest

from napari_cytoqa._dtypes import cast_to


def test_integers_round_half_to_even_and_clip_without_wrapping():
    v = np.array([-3.0, 0.5, 1.5, 2.49, 254.6, 300.0])
    np.testing.assert_array_equal(cast_to(v, np.uint8), [0, 0, 2, 2, 255, 255])
    np.testing.assert_array_equal(cast_to(np.array([-40000.0, -1.5, 40000.0]), np.int16), [-32768, -2, 32767])
    assert cast_to(v, np.uint16).dtype == np.uint16


def test_non_finite_values_become_zero_or_the_range_ends():
    v = np.array([np.nan, np.inf, -np.inf, 7.2], dtype=np.float32)
    np.testing.assert_array_equal(cast_to(v, np.uint16), [0, 65535, 0, 7])
    np.testing.assert_array_equal(cast_to(v, np.int8), [0, 127, -128, 7])
    assert np.isnan(cast_to(v, np.float32)[0])  # floats keep NaN


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_floats_are_cast(dtype):
    v = np.array([0.25, 1e3])
    out = cast_to(v, dtype)
    assert out.dtype == dtype and np.allclose(out, v.astype(dtype))


def test_booleans_threshold_at_a_half():
    np.testing.assert_array_equal(cast_to(np.array([0.2, 0.5, 0.9]), bool), [False, True, True])
