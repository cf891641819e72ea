import numpy as np
import pytest

from napari_cytoqa._dtypes import cast_to, colour_peak, integer_full_scale, transparent_as_nan


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


@pytest.mark.parametrize("dtype, peak, full", [
    (np.uint8, 3, 255), (np.uint8, None, 255),
    (np.uint16, 4095, 4095), (np.uint16, 4000, 4095), (np.uint16, 4096, 16383), (np.uint16, 200, 255),
    (np.uint16, 60000, 65535), (np.uint16, None, 65535), (np.uint16, 0, 255), (np.int16, -5, 255),
    (np.int64, 255, 255), (np.int32, 1000, 1023), (np.int32, 100_000, 2**18 - 1), (np.uint32, 2**32 - 1, 2**32 - 1),
])
def test_integer_full_scale_is_the_bit_depth_the_data_use(dtype, peak, full):
    assert integer_full_scale(dtype, peak) == full


def test_colour_peak_ignores_alpha_and_non_finite_values():
    rgba = np.zeros((4, 4, 4), np.uint16)
    rgba[..., 3] = 65535
    rgba[0, 0, 1] = 4000
    assert colour_peak(rgba) == 4000
    assert colour_peak(np.array([[np.nan, 2.0], [np.inf, 1.0]])) == 2.0
    assert colour_peak(np.full((2, 2), np.nan)) is None and colour_peak(np.zeros((0, 3))) is None


def test_transparent_pixels_become_missing_data():
    rgba = np.full((3, 4, 4), 200, np.uint8)
    rgba[0, :, 3] = 0
    out = transparent_as_nan(rgba)
    assert out.shape == (3, 4, 3) and out.dtype == np.float32
    assert np.isnan(out[0]).all() and (out[1:] == 200).all()
    opaque = np.full((3, 4, 4), 7, np.uint8)
    assert transparent_as_nan(opaque) is opaque  # nothing transparent: unchanged, no copy
    gray = np.zeros((3, 4), np.uint16)
    assert transparent_as_nan(gray) is gray
