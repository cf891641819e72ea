"""Over-exposure: the saturated share, detection's warning and sharp_model='auto'."""
import logging

import numpy as np
import pytest

from napari_cytoqa.detection import detect_cells
from napari_cytoqa.detection.exposure import (SATURATION_WARNING, exposure_model, exposure_warning,
                                              saturated_fraction)
from napari_cytoqa.synthetic import fluorescence_series, over_expose, smear_series


def test_saturated_fraction_counts_pixels_at_the_maximum_in_every_channel():
    img = np.full((10, 10, 3), 100, np.uint8)
    img[:3, :] = 255            # 30 white pixels
    img[5, :5] = (255, 0, 255)  # 5 with one channel below the maximum: not white-clipped
    assert saturated_fraction(img) == pytest.approx(0.30)
    assert saturated_fraction(img[..., 0]) == pytest.approx(0.35)  # gray: a pixel at the maximum is one
    assert saturated_fraction(np.full((8, 8), 7, np.uint16)) == 0.0  # a blank field is not over-exposed
    rgba = np.dstack([img, np.full((10, 10), 255, np.uint8)])
    rgba[6:, :, 3] = 0  # rows 6-9 transparent: they do not count
    assert saturated_fraction(rgba) == pytest.approx(30 / 60)
    f = np.linspace(0, 1, 400).reshape(20, 20)
    assert saturated_fraction(f) == pytest.approx(1 / 400)
    assert saturated_fraction(np.minimum(f, 0.5)) == pytest.approx(200 / 400)  # clipped floats too


@pytest.mark.parametrize("kind", ["brightfield", "fluorescence"])
def test_clipped_images_are_flagged_and_rendered_ones_are_not(kind):
    make = smear_series if kind == "brightfield" else fluorescence_series
    s = make((256, 256), [0], seed=11)[0]
    img = np.asarray(s.image)
    assert saturated_fraction(img) < SATURATION_WARNING
    if kind == "brightfield":
        clipped = over_expose(img, 255 / 1.35)
    else:  # the brightest half of the nuclei's pixels flattened, 16-bit data of fewer bits
        top = float(2 ** np.ceil(np.log2(img.max() + 1)) - 1)
        clipped = over_expose(img, float(np.median(img[s.labels > 0])), full_scale=top)
    assert saturated_fraction(clipped) >= SATURATION_WARNING


def test_detect_cells_warns_of_over_exposure_and_says_what_may_do_better(caplog):
    s = smear_series((192, 192), [0], seed=4)[0]
    clipped = over_expose(np.asarray(s.image), 255 / 1.35)
    with caplog.at_level(logging.WARNING, logger="napari_cytoqa"):
        det = detect_cells(clipped, detector="otsu")
    assert det.saturated > 0.3 and len(det.warnings) == 1 and "over-exposed" in det.warnings[0]
    assert "over-exposed" in caplog.text
    plain = detect_cells(np.asarray(s.image), detector="otsu")
    assert plain.warnings == [] and plain.saturated < SATURATION_WARNING
    assert "sharp-exposure" in exposure_warning(0.5, "unet") and "sharp-exposure" not in exposure_warning(0.5, "otsu")
    assert exposure_warning(SATURATION_WARNING / 2, "unet") is None


def test_blur_routing_sends_only_saturated_images_to_the_exposure_trained_sharp_model():
    assert exposure_model(0.5, "unet") == "cytoqa-unet-sharp-exposure"
    assert exposure_model(0.5, "yolo") == "cytoqa-yolo-sharp-exposure"
    assert exposure_model(0.001, "unet") is None
    s = fluorescence_series((128, 128), [0], seed=3)[0]
    img = np.asarray(s.image)
    plain = detect_cells(img, detector="unet", routing="blur")
    auto = detect_cells(img, detector="unet", routing="blur", sharp_model="auto")
    assert np.array_equal(auto.boxes, plain.boxes) and set(plain.route) == {"cytoqa-unet-sharp"}
    assert plain.warnings == []
    clipped = over_expose(img, float(np.median(img[s.labels > 0])),
                          full_scale=float(2 ** np.ceil(np.log2(img.max() + 1)) - 1))
    det = detect_cells(clipped, detector="unet", routing="blur")
    assert set(det.route) == {"cytoqa-unet-sharp-exposure"} and "went to the sharp model" in det.warnings[0]
    own = detect_cells(clipped, detector="unet", routing="blur", sharp_model="cytoqa-unet-sharp")  # asked for
    assert set(own.route) == {"cytoqa-unet-sharp"} and "may do better" in own.warnings[0]
    combined = detect_cells(clipped, detector="unet")  # not routed: the advice
    assert set(combined.route) == {"cytoqa-unet-combined"} and "routing='blur'" in combined.warnings[0]
    with pytest.raises(ValueError, match="routing='blur'"):
        detect_cells(img, detector="unet", sharp_model="auto")
    with pytest.raises(ValueError, match="routing='blur'"):
        detect_cells(img, detector="otsu", sharp_model="auto")
