import numpy as np
import pytest


def test_viewer_opens_pyramid_with_plugin(make_napari_viewer, pyramid_file):
    path, _ = pyramid_file
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(path), plugin="napari-cytoqa")
    assert layer.multiscale and len(layer.data) == 3 and layer.rgb
    assert tuple(layer.scale) == pytest.approx((0.25, 0.25))


def test_viewer_open_corrupt_file_errors_cleanly(make_napari_viewer, tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00" + b"\x00" * 20)
    viewer = make_napari_viewer()
    with pytest.raises(ValueError):  # napari: no reader could open it (ours returned None)
        viewer.open(str(bad), plugin="napari-cytoqa")
    assert len(viewer.layers) == 0


@pytest.mark.parametrize("key, multiscale", [("smear", False), ("fluorescence", False), ("pyramid", True)])
def test_sample_data(make_napari_viewer, key, multiscale):
    viewer = make_napari_viewer()
    layers = viewer.open_sample("napari-cytoqa", key)
    assert len(layers) == 1 and layers[0].multiscale == multiscale
    assert np.asarray(layers[0].data[0] if multiscale else layers[0].data).size > 0
