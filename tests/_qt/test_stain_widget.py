import numpy as np
import pytest

from napari_cytoqa._widgets.stain_widget import StainTransferWidget
from napari_cytoqa.synthetic import make_smear


@pytest.fixture
def viewer_widget(docked):
    return docked(StainTransferWidget)


@pytest.fixture
def run(run_job):
    return lambda widget, timeout=120000: run_job(widget, timeout)


def test_cyclegan_and_macenko_add_layers_on_the_source_grid(run, viewer_widget):
    viewer, widget = viewer_widget
    img = make_smear((200, 260), stain="he", seed=1).image
    before = img.copy()
    source = viewer.add_image(img, name="smear", scale=(0.5, 0.5), translate=(10, 20))
    widget.image.value = source
    assert widget.method.value == "cyclegan" and widget.model.value == "cytoqa-stain-he-to-giemsa"
    assert len(widget.checkpoint.choices) >= 2  # default + the shipped epoch checkpoints
    run(widget)
    out = viewer.layers["smear [cytoqa-stain-he-to-giemsa]"]
    assert out.rgb and out.data.shape == img.shape and out.data.dtype == np.uint8
    assert tuple(out.scale) == pytest.approx((0.5, 0.5)) and tuple(out.translate) == pytest.approx((10, 20))
    np.testing.assert_array_equal(source.data, before)
    # a chosen checkpoint makes its own layer; re-running updates it instead of adding another
    widget.checkpoint.value = widget.checkpoint.choices[1]
    run(widget)
    run(widget)
    names = [layer.name for layer in viewer.layers]
    assert sum(n.startswith("smear [cytoqa-stain-he-to-giemsa") for n in names) == 2
    # classical with a reference layer
    ref = viewer.add_image(make_smear((200, 200), stain="giemsa", seed=2).image, name="lab B")
    widget.method.value = "macenko"
    assert not widget.model.enabled and widget.reference.enabled
    widget.reference.value = ref
    run(widget)
    assert viewer.layers["smear [macenko]"].data.shape == img.shape


def test_gray_layer_is_refused_with_a_message(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    widget.image.value = viewer.add_image(np.zeros((64, 64), np.uint8), name="gray")
    n = len(viewer.layers)
    widget.run()
    assert widget.run_button.enabled and len(viewer.layers) == n


def test_a_stack_is_restained_on_the_plane_on_screen(run, viewer_widget):
    from napari_cytoqa import transfer_stain

    viewer, widget = viewer_widget
    planes = [make_smear((96, 128), stain="he", seed=s).image for s in (5, 6)]
    widget.image.value = viewer.add_image(np.stack(planes), name="series", rgb=True)
    widget.method.value = "macenko"
    viewer.dims.set_point(0, 1)
    run(widget)
    out = viewer.layers["series [plane 1] [macenko]"]
    np.testing.assert_array_equal(out.data, transfer_stain(planes[1], method="macenko"))
    assert out.metadata["cytoqa_stain"]["plane"] == [1]

