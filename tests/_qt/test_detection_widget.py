import numpy as np
import pytest

from napari_cytoqa._layers import detection_layers_data
from napari_cytoqa._widgets.detection_widget import DetectionWidget
from napari_cytoqa.synthetic import make_fluorescence, make_smear


@pytest.fixture
def viewer_widget(docked):
    return docked(DetectionWidget)


@pytest.fixture
def run(run_job):
    return lambda widget, timeout=120000: run_job(widget, timeout)


def test_unet_draws_labels_boxes_and_tile_counts_and_rerun_updates(run, viewer_widget):
    viewer, widget = viewer_widget
    sample = make_smear((300, 600), seed=8)
    before = sample.image.copy()
    source = viewer.add_image(sample.image, name="smear", scale=(0.5, 0.5))
    widget.image.value = source
    widget.tile_size.value = 256
    run(widget)
    labels, boxes, tiles = viewer.layers["smear cells"], viewer.layers["smear boxes"], viewer.layers["smear tile counts"]
    assert labels._type_string == "labels" and labels.data.shape == sample.image.shape[:2]
    assert boxes._type_string == "shapes" and len(boxes.data) == labels.data.max()
    assert abs(len(boxes.data) - len(sample.boxes)) <= 0.2 * len(sample.boxes)
    assert {"score", "route", "focus"} <= set(boxes.features.columns)
    assert tiles.features["count"].sum() == len(boxes.data)
    assert tuple(labels.scale) == pytest.approx((0.5, 0.5))
    assert str(len(boxes.data)) in widget.status.value
    np.testing.assert_array_equal(source.data, before)
    widget.detector.value = "otsu"
    assert not widget.routing.enabled
    run(widget)
    names = [layer.name for layer in viewer.layers]
    assert names.count("smear cells") == 1 and names.count("smear boxes") == 1


def test_many_cells_become_points(make_napari_viewer):
    from napari_cytoqa.detection import detect_cells

    viewer = make_napari_viewer()
    img = make_fluorescence((256, 256), seed=1).image
    det = detect_cells(img, detector="otsu")
    data = detection_layers_data(det, viewer.add_image(img, name="nuclei"), max_boxes=5)
    kinds = {kw["name"]: kind for _, kw, kind in data}
    assert kinds["nuclei boxes"] == "points" and kinds["nuclei cells"] == "labels"
    from napari_cytoqa._layers import add_detection_layers

    layers = add_detection_layers(viewer, det, viewer.layers["nuclei"], max_boxes=5)
    assert len(layers[1].data) == det.count
