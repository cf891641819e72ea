"""Stained tissue through its hematoxylin channel (``detect_cells(stain=...)``,
:mod:`napari_cytoqa.detection.stain_input`)."""
import numpy as np
import pytest

from napari_cytoqa import detect_cells
from napari_cytoqa.detection import evaluate_detections
from napari_cytoqa.detection.size import equivalent_diameters
from napari_cytoqa.detection.stain_input import TISSUE_FILL, HematoxylinInput, is_tissue, stain_input, tissue_fill
from napari_cytoqa.synthetic.smear import smear_series
from napari_cytoqa.synthetic.tissue import tissue_series


@pytest.fixture(scope="module")
def tissue():
    """An H&E section whose stain covers most of the field (fill 0.88), with its nuclei."""
    return tissue_series((384, 384), levels=[0], architecture=True, dab=0.0, scale=1.5, seed=70000)[0]


def test_tissue_is_told_from_smears_and_gray(tissue):
    assert tissue_fill(tissue.image, 255) >= TISSUE_FILL
    assert is_tissue(tissue.image, 255)
    smear = smear_series((256, 256), levels=[0], seed=3)[0].image
    assert not is_tissue(smear, 255)                     # cells on glass: most of the field is clear
    assert not is_tissue(tissue.image.mean(-1), 255)     # gray is never judged by colour
    fluorescence = np.zeros((256, 256, 3), np.uint8)
    fluorescence[100:140, 100:140, 2] = 220              # a blue dye on black
    assert not is_tissue(fluorescence, 255)


def test_hematoxylin_channel_lights_the_nuclei(tissue):
    render = HematoxylinInput(tissue.image, 255.0, sigma=1.0)
    h = render(tissue.image)
    assert h.shape == tissue.image.shape[:2] and h.dtype == np.float32
    assert 0.0 <= h.min() and h.max() <= 1.0
    nuclei = tissue.labels > 0
    assert h[nuclei].mean() > 3 * h[~nuclei].mean()
    rgba = np.dstack([tissue.image, np.full(tissue.image.shape[:2], 255, np.uint8)])
    rgba[:20, :20, 3] = 0                                # transparent corner: missing, not stain
    from napari_cytoqa._dtypes import transparent_as_nan

    out = render(transparent_as_nan(rgba))
    assert np.isnan(out[:20, :20]).all() and np.isfinite(out[20:, 20:]).all()


def test_stain_choices_and_errors(tissue):
    assert stain_input("none", tissue.image, np.uint8, 16.0) is None
    assert stain_input("auto", tissue.image, np.uint8, 16.0) is not None
    assert stain_input("auto", tissue.image.mean(-1), np.float64, 16.0) is None
    with pytest.raises(ValueError, match="RGB"):
        stain_input("hematoxylin", tissue.image.mean(-1), np.float64, 16.0)
    with pytest.raises(ValueError, match="stain must be"):
        detect_cells(tissue.image, detector="otsu", stain="eosin")
    with pytest.raises(ValueError, match="RGB"):
        detect_cells(tissue.image.mean(-1), detector="otsu", stain="hematoxylin")


def test_tissue_nuclei_found_through_the_hematoxylin_channel(tissue):
    """The learned detectors know nuclei on a dark ground and cells on glass, not tissue: as it
    is, YOLO finds almost none of these nuclei; through the channel, most."""
    d = float(np.median(equivalent_diameters(tissue.labels)))
    auto = detect_cells(tissue.image, detector="yolo", routing="combined", diameter=d, tta=False, stain="auto")
    plain = detect_cells(tissue.image, detector="yolo", routing="combined", diameter=d, tta=False)
    assert auto.stain == "hematoxylin" and plain.stain == "none"
    ap = {k: evaluate_detections([(v.boxes, v.scores)], [tissue.boxes]).ap50 for k, v in
          (("auto", auto), ("none", plain))}
    assert ap["auto"] > 0.7 and ap["none"] < 0.3, ap


def test_smear_is_left_as_it_is():
    smear = smear_series((256, 256), levels=[0], seed=3)[0]
    assert detect_cells(smear.image, detector="otsu", stain="auto").stain == "none"


def test_focus_routes_on_the_tiles_as_they_are(tissue):
    """With routing="blur" the focus model judges the RGB tiles, not the smoothed channel."""
    kw = {"detector": "yolo", "routing": "blur", "tta": False, "tile_size": 256}
    auto = detect_cells(tissue.image, stain="auto", **kw)
    plain = detect_cells(tissue.image, **kw)
    assert auto.stain == "hematoxylin"
    np.testing.assert_allclose(auto.tile_focus, plain.tile_focus, atol=1e-4)


def test_auto_diameter_on_stained_tissue_warns(tissue, monkeypatch):
    """The size estimate has been far off on real H&E: an auto diameter through the
    hematoxylin channel says so in Detections.warnings; a diameter told, or plain images, do not."""
    from napari_cytoqa.detection import detect_cells, size

    monkeypatch.setattr(size, "estimate_diameter", lambda *a, **k: 20.0)  # the estimate's value is not the point
    det = detect_cells(tissue.image, detector="otsu", stain="hematoxylin", diameter="auto")
    assert det.diameter == 20.0 and any("stained tissue" in w and "20.0 px" in w for w in det.warnings)
    told = detect_cells(tissue.image, detector="otsu", stain="hematoxylin", diameter=20.0)
    plain = detect_cells(tissue.image, detector="otsu", stain="none", diameter="auto")
    assert not any("stained tissue" in w for w in told.warnings + plain.warnings)
