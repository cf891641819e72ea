"""The U-Net for stained tissue: its training data (:mod:`napari_cytoqa.detection.tissue_task`), the
synthetic sections' new options, and that it runs on the hematoxylin channel only when named (rule U failed)."""
import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_cytoqa import detect_cells
from napari_cytoqa.detection.instances import fill_label_holes
from napari_cytoqa.detection.tissue_task import build_tissue_dataset
from napari_cytoqa.synthetic.tissue import tissue_series


def test_textured_sections_keep_whole_nuclei_as_labels():
    plain = tissue_series((192, 192), levels=[0], architecture=True, scale=1.4, seed=5)[0]
    textured = tissue_series((192, 192), levels=[0], architecture=True, scale=1.4, chromatin=1.0,
                             stroma_hematoxylin=0.3, stain_jitter=0.15, seed=5)[0]
    assert textured.labels.max() > 5
    assert not np.array_equal(plain.image, textured.image)
    for i, sl in enumerate(ndi.find_objects(textured.labels), start=1):  # no holes where chromatin is pale
        m = textured.labels[sl] == i
        assert (ndi.binary_fill_holes(m) == m).all()
    with pytest.raises(ValueError, match="chromatin"):
        tissue_series((64, 64), levels=[0], chromatin=1.5, seed=0)


def test_fill_label_holes_fills_only_inside_one_label():
    lab = np.zeros((9, 9), np.int32)
    lab[1:6, 1:6] = 1
    lab[3, 3] = 0                       # a hole inside label 1
    lab[6:9, 6:9] = 2
    lab[7, 7] = 0                       # a hole inside label 2
    lab[0, 8] = 0
    out = fill_label_holes(lab)
    assert out[3, 3] == 1 and out[7, 7] == 2 and out[0, 0] == 0
    assert lab[3, 3] == 0               # the input is not changed


def test_tissue_dataset_is_what_the_detectors_see():
    x, y, lv, groups = build_tissue_dataset(2, [0, 8], size=128, crop=64, crops_per_image=1, seed=3)
    assert x.shape == (4, 3, 64, 64) and y.shape == (4, 2, 64, 64)
    assert np.isfinite(x).all() and set(np.unique(y[:, 0])) <= {0.0, 1.0}
    assert list(lv) == [0, 8, 0, 8] and list(groups) == [0, 0, 1, 1]
    nuclei = y[:, 0] > 0
    assert x[:, 0][nuclei].mean() > 2 * x[:, 0][~nuclei].mean()   # nuclei bright on a dark ground


def test_the_tissue_unet_is_opt_in_on_the_channel():
    """Rule U failed: the channel keeps the fluorescence-trained U-Nets unless the tissue one is named."""
    section = tissue_series((256, 256), levels=[0], architecture=True, dab=0.0, scale=1.5, seed=70001)[0]
    kw = {"detector": "unet", "routing": "combined", "tta": False, "diameter": 16.0, "stain": "hematoxylin"}
    default = detect_cells(section.image, **kw)
    tissue = detect_cells(section.image, model="cytoqa-unet-tissue", **kw)
    assert default.count and set(default.route) == {"cytoqa-unet-combined"}
    assert tissue.count and set(tissue.route) == {"cytoqa-unet-tissue"} and tissue.stain == "hematoxylin"
