"""Screenshots of the Cell Detection widget on the bundled samples (for docs/).

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/screenshot_detection.py docs/images
"""
import sys
from pathlib import Path

import napari
import numpy as np
from _screenshots import run_and_wait
from PIL import Image

from napari_cytoqa._widgets.detection_widget import DetectionWidget


def main(out="docs/images"):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    viewer = napari.Viewer(show=False)
    viewer.window._qt_window.resize(1400, 850)
    widget = DetectionWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Cell Detection")
    for sample, shot, detector, routing in (("smear_blurry_region.jpg", "detection_smear", "unet", "blur"),
                                            ("fluorescence_nuclei.tif", "detection_fluorescence", "unet", "combined"),
                                            ("fluorescence_nuclei.tif", "detection_yolo", "yolo", "blur")):
        while len(viewer.layers):  # one by one: after layers.clear() napari 0.9 drew later shapes' text and
            viewer.layers.pop()  # edges incompletely in these off-screen shots (the tile counts went missing)
        [layer] = viewer.open(f"sample_data/{sample}", plugin="napari-cytoqa")
        widget.image.value = layer
        widget.detector.value = detector
        widget.routing.value = routing
        widget.diameter.value = 0  # native size unless estimated
        widget.auto_diameter.value = shot == "detection_fluorescence"  # show the size estimate once
        run_and_wait(widget)
        viewer.reset_view()
        if shot == "detection_yolo":  # zoom in: the rectangles and their tile counts
            viewer.scene.camera.zoom *= 2.5
        if shot == "detection_smear":  # show centres and per-tile counts (labels drawn over the counts)
            viewer.layers[f"{layer.name} cells"].visible = False
        viewer.screenshot(str(out / f"{shot}_window.png"), canvas_only=False)
        print(sample, detector, routing, "cells:", widget.status.value, "diameter:", widget.diameter.value)
    # a region on a pyramidal slide, the cell size given in µm (the file records 0.5 µm/px)
    while len(viewer.layers):
        viewer.layers.pop()
    [layer] = viewer.open("sample_data/slide_pyramid.ome.tif", plugin="napari-cytoqa")
    sy, sx = layer.scale[-2:]
    poly = np.array([[700, 600], [650, 1500], [1300, 1700], [1500, 900], [1100, 500]], float) * [sy, sx]
    roi = viewer.add_shapes([poly], shape_type="polygon", name="region", edge_color="magenta", face_color="transparent",
                            edge_width=4 * sy)
    widget.image.value, widget.region.value = layer, roi
    widget.detector.value, widget.routing.value = "unet", "blur"
    widget.auto_diameter.value = False
    widget.diameter.value, widget.diameter_unit.value = 7.0, "µm"
    run_and_wait(widget)
    viewer.reset_view()
    viewer.layers.selection.active = roi
    shot = viewer.screenshot(canvas_only=False)
    Image.fromarray(shot[..., :3]).quantize(256, method=Image.Quantize.MEDIANCUT).save(  # a third of the bytes
        out / "detection_region_window.png", optimize=True)
    print("slide_pyramid region, 7 µm: cells:", widget.status.value)
    series_shot(viewer, widget, out)
    compare_shot(viewer, widget, out)
    viewer.close()


def compare_shot(viewer, widget, out):
    """'compare with' a QuPath-style GeoJSON of annotated nuclei (a synthetic field's true boxes, as a
    bare list of features beside its image, as QuPath names exports), opened over the image."""
    import json
    import tempfile

    from napari_cytoqa.io.writer import write_pyramid
    from napari_cytoqa.synthetic import make_fluorescence

    while len(viewer.layers):
        viewer.layers.pop()
    field = make_fluorescence((512, 640), seed=11)
    folder = Path(tempfile.mkdtemp())
    write_pyramid(folder / "field.ome.tif", [field.image], pixel_size_um=0.5)
    feats = [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
        [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}, "properties": {
        "objectType": "annotation", "classification": {"name": "Nucleus", "color": [0, 200, 255]}}}
        for y0, x0, y1, x1 in np.asarray(field.boxes, float)]
    (folder / "field.geojson").write_text(json.dumps(feats))
    [layer] = viewer.open(str(folder / "field.ome.tif"), plugin="napari-cytoqa")
    [annotated] = viewer.open(str(folder / "field.geojson"), plugin="napari-cytoqa")
    widget.region.value = None
    widget.image.value, widget.truth.value = layer, annotated
    widget.detector.value, widget.routing.value = "unet", "combined"
    widget.diameter.value, widget.diameter_unit.value = 0.0, "px"
    run_and_wait(widget)
    viewer.layers[f"{layer.name} cells"].visible = False
    viewer.reset_view()
    shot = viewer.screenshot(canvas_only=False)
    Image.fromarray(shot[..., :3]).quantize(128, method=Image.Quantize.MEDIANCUT).save(
        out / "detection_compare_window.png", optimize=True)
    print("compare with annotated:", widget.status.value)
    widget.truth.value = None


def series_shot(viewer, widget, out):
    """'Detect in every plane' on a real time-lapse: ndev-sampledata's scratch assay (10 frames, its
    Hoechst channel; fetched by _wheel_data.py, validation data only shown), the widget's defaults."""
    from _wheel_data import fetch

    while len(viewer.layers):
        viewer.layers.pop()
    name = "scratch-assay-labeled-10T-2Ch.tiff"
    layers = viewer.open(str(fetch(name)[name]), plugin="napari-cytoqa")
    for extra in layers[1:]:  # the oblique light and the two label channels
        viewer.layers.remove(extra)
    widget.region.value = None
    widget.image.value = layers[0]
    widget.detector.value, widget.routing.value = "unet", "combined"
    widget.diameter.value, widget.diameter_unit.value = 0.0, "px"
    run_and_wait(widget, action=widget.detect_planes)
    viewer.dims.set_point(0, viewer.dims.range[0].stop)  # the last frame
    viewer.reset_view()
    viewer.camera.zoom *= 2  # the boxes' 1-px edges show
    viewer.layers[f"{layers[0].name} [plane *] cells"].visible = False  # drawn over the boxes' edges
    shot = viewer.screenshot(canvas_only=False)
    Image.fromarray(shot[..., :3]).quantize(256, method=Image.Quantize.MEDIANCUT).save(
        out / "detection_planes_window.png", optimize=True)
    print("scratch assay, every frame:", widget.status.value)


if __name__ == "__main__":
    main(*sys.argv[1:])
