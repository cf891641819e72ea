"""Screenshot of the Quality Control widget on the bundled sample slide (for docs/).

    xvfb-run -a python scripts/screenshot_qc.py docs/images
"""
import sys
from pathlib import Path

import napari
from _screenshots import run_and_wait

from napari_cytoqa._widgets.qc_widget import QualityControlWidget


def run_qc(widget, layer, tile_size):
    widget.image.value = layer
    widget.tile_size.value = tile_size
    run_and_wait(widget, timeout=120)


def main(out="docs/images"):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    viewer = napari.Viewer(show=False)
    viewer.window._qt_window.resize(1400, 850)
    [layer] = viewer.open("sample_data/smear_blurry_region.jpg", plugin="napari-cytoqa")
    widget = QualityControlWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Quality Control")
    run_qc(widget, layer, 128)
    viewer.reset_view()
    viewer.screenshot(str(out / "qc_window.png"), canvas_only=False)
    viewer.screenshot(str(out / "qc_canvas.png"), canvas_only=True)
    # the pyramid sample, multiscale with its pixel size
    while len(viewer.layers):  # one by one: after layers.clear() napari 0.9 can draw later shapes incompletely
        viewer.layers.pop()
    [slide] = viewer.open("sample_data/slide_pyramid.ome.tif", plugin="napari-cytoqa")
    run_qc(widget, slide, 256)
    viewer.reset_view()
    viewer.screenshot(str(out / "qc_pyramid_window.png"), canvas_only=False)
    print("slide verdict:", widget.verdict.value)
    viewer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
