import json

import numpy as np
import pytest

from napari_cytoqa._layers import detection_layers_data
from napari_cytoqa._widgets.detection_widget import DetectionWidget
from napari_cytoqa.detection.detect import DEFAULT_MERGE, DEFAULT_TTA
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
    labels, boxes = viewer.layers["smear cells"], viewer.layers["smear boxes"]
    tiles = viewer.layers["smear tile counts"]
    assert labels._type_string == "labels" and labels.data.shape == sample.image.shape[:2]
    assert boxes._type_string == "shapes" and len(boxes.data) == labels.data.max()
    assert abs(len(boxes.data) - len(sample.boxes)) <= 0.2 * len(sample.boxes)
    assert {"score", "route", "model", "focus", "area"} <= set(boxes.features.columns)
    assert boxes.features["area"].sum() == (labels.data > 0).sum()
    assert set(boxes.features["route"]) == {"combined"}
    assert set(boxes.features["model"]) == {"cytoqa-unet-combined"}
    assert tiles.features["count"].sum() == len(boxes.data)
    assert tuple(labels.scale) == pytest.approx((0.5, 0.5))
    assert str(len(boxes.data)) in widget.status.value
    np.testing.assert_array_equal(source.data, before)
    widget.bf16.value = True  # the opt-in bfloat16 networks: same layers, counts within a few cells
    assert widget.options()["precision"] == "bf16"
    count = len(boxes.data)
    run(widget)
    assert abs(len(viewer.layers["smear boxes"].data) - count) <= max(3, 0.03 * count)
    assert widget.denoise.value == "auto" and "denoise" not in widget.options()  # detect_cells' default
    widget.denoise.value = "on"  # denoising of noisy tiles before every model
    assert widget.options()["denoise"] is True
    widget.denoise.value = "off"
    assert widget.options()["denoise"] is False
    assert widget.tta.enabled and widget.options()["tta"] is widget.tta.value  # mirror-image averaging
    assert widget.merge.enabled and widget.options()["merge"] is DEFAULT_MERGE  # joining pieces (rule J)
    widget.merge.value = not DEFAULT_MERGE
    assert widget.options()["merge"] is (not DEFAULT_MERGE)
    assert widget.options()["stain"] == "none"  # the image as it is unless asked (rule H)
    widget.stain.value = "auto"
    assert widget.options()["stain"] == "auto"
    widget.stain.value = "none"
    widget.tta.value = not widget.tta.value
    assert widget.options()["tta"] is widget.tta.value
    widget.routing.value = "blur"  # another routing keeps the user's choice
    assert widget.options()["tta"] is (not DEFAULT_TTA["unet"])
    widget.routing.value = "combined"
    assert "min_score" not in widget.options()  # every object unless asked
    widget.min_score.value = 0.97  # only confident objects: a subset, all scoring at least that
    assert widget.options()["min_score"] == pytest.approx(0.97)
    run(widget)
    kept = viewer.layers["smear boxes"].features["score"]
    assert 0 < len(kept) < count and (kept >= 0.97).all()
    assert viewer.layers["smear tile counts"].features["count"].sum() == len(kept)
    assert viewer.layers["smear cells"].data.max() == len(kept)
    widget.min_score.value = 0.0
    widget.detector.value = "otsu"
    assert not widget.routing.enabled and not widget.model.enabled and not widget.bf16.enabled
    assert not widget.denoise.enabled and not widget.tta.enabled
    assert not widget.merge.enabled
    assert {"precision", "denoise", "tta", "merge"}.isdisjoint(widget.options())
    run(widget)
    names = [layer.name for layer in viewer.layers]
    assert names.count("smear cells") == 1 and names.count("smear boxes") == 1
    assert "too large" not in widget.status.value


def test_a_too_large_image_gets_boxes_without_instance_labels(run, viewer_widget, monkeypatch, tmp_path, export):
    import json

    import napari_cytoqa.detection.detect as detect_module

    viewer, widget = viewer_widget
    monkeypatch.setattr(detect_module, "MAX_LABEL_PIXELS", 300 * 300)  # stands for a whole slide
    widget.image.value = viewer.add_image(make_smear((300, 400), seed=8).image, name="big")
    widget.detector.value = "otsu"
    run(widget)
    assert "big cells" not in viewer.layers and len(viewer.layers["big boxes"].data) > 10
    assert "too large to keep instance labels" in widget.status.value
    assert (viewer.layers["big boxes"].features["area"] > 0).all()  # from the outlines kept instead
    widget.csv_path.value = tmp_path / "big.csv"  # the export still has each nucleus' outline and area
    export(widget)
    features = json.loads((tmp_path / "big.geojson").read_text())["features"]
    assert len(features) == len(viewer.layers["big boxes"].data)
    assert min(len(f["geometry"]["coordinates"][0]) for f in features) > 5 and "area_px" in features[0]["properties"]


def test_an_over_exposed_image_is_flagged_in_the_status(run, viewer_widget):
    from napari_cytoqa.synthetic import over_expose

    viewer, widget = viewer_widget
    widget.image.value = viewer.add_image(over_expose(make_smear((200, 200), seed=8).image, 255 / 1.35),
                                          name="bright")
    widget.detector.value = "otsu"
    run(widget)
    assert "over-exposed?" in widget.status.value and "saturated" in widget.status.value


def test_estimate_cell_size_fills_the_diameter_box(run, viewer_widget):
    viewer, widget = viewer_widget
    sample = make_fluorescence((320, 320), scale=1.5, seed=23)  # nuclei ~25 px
    widget.image.value = viewer.add_image(sample.image, name="big nuclei")
    widget.auto_diameter.value = True
    run(widget)
    truth = np.median(np.sqrt(4 * np.bincount(sample.labels.ravel())[1:] / np.pi))
    assert abs(widget.diameter.value / truth - 1) < 0.25, (widget.diameter.value, truth)
    assert abs(len(viewer.layers["big nuclei boxes"].data) - len(sample.boxes)) <= 0.2 * len(sample.boxes)


def test_yolo_draws_rectangles_with_features_and_replaces_stale_labels(run, viewer_widget):
    viewer, widget = viewer_widget
    sample = make_fluorescence((384, 384), seed=21)
    source = viewer.add_image(sample.image, name="nuclei")
    widget.image.value = source
    widget.tile_size.value = 256
    run(widget)  # U-Net first: draws "nuclei cells"
    assert "nuclei cells" in viewer.layers
    widget.detector.value = "yolo"
    assert "cytoqa-yolo-combined" in widget.model.choices and widget.routing.enabled
    assert widget.tta.enabled and widget.options()["tta"] is DEFAULT_TTA["yolo"]  # YOLO's own default
    assert not widget.merge.enabled and "merge" not in widget.options()  # the U-Net's only
    widget.model.value = "cytoqa-yolo-sharp"
    assert widget.options()["model"] == "cytoqa-yolo-sharp" and "threshold" not in widget.options()
    widget.own_threshold.value = False
    widget.threshold.value = 0.3
    assert widget.options()["threshold"] == pytest.approx(0.3)
    run(widget)
    boxes = viewer.layers["nuclei boxes"]
    assert "nuclei cells" not in viewer.layers  # a boxes-only result leaves no stale labels
    assert boxes._type_string == "shapes" and set(boxes.shape_type) == {"rectangle"}
    # mirror averaging (YOLO's default): boxes 2 of the 4 views found at 0.3, scores averaged over the 4 views
    assert set(boxes.features["model"]) == {"cytoqa-yolo-sharp"} and (boxes.features["score"] >= 0.3 / 2).all()
    assert abs(len(boxes.data) - len(sample.boxes)) <= 0.25 * len(sample.boxes)
    widget.routing.value = "blur"  # the model box now picks the model in-focus tiles go to
    assert widget.model.label == "sharp model" and widget.options()["sharp_model"] == "cytoqa-yolo-sharp"
    assert "model" not in widget.options()
    widget.model.value = widget.AUTO
    assert "sharp_model" not in widget.options()
    assert "diameter" not in widget.options()
    widget.diameter.value = 24
    assert widget.options()["diameter"] == 24
    widget.auto_diameter.value = True
    assert widget.options()["diameter"] == "auto" and not widget.diameter.enabled
    widget.auto_diameter.value = False


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


def test_a_stack_is_detected_on_the_plane_on_screen(run, viewer_widget, tmp_path, export):
    import pandas as pd

    from napari_cytoqa.detection import detect_cells

    viewer, widget = viewer_widget
    planes = [make_fluorescence((256, 320), seed=s).image for s in (3, 4)]
    source = viewer.add_image(np.stack(planes), name="nuclei", scale=(3.0, 0.5, 0.5), translate=(0, 5, 7))
    widget.image.value = source
    viewer.dims.set_point(0, 3.0)  # plane 1
    run(widget)
    labels, boxes = viewer.layers["nuclei [plane 1] cells"], viewer.layers["nuclei [plane 1] boxes"]
    assert labels.data.shape == planes[1].shape and "nuclei cells" not in viewer.layers
    assert len(boxes.data) == detect_cells(planes[1]).count != detect_cells(planes[0]).count
    assert tuple(labels.scale) == pytest.approx((0.5, 0.5)) and tuple(labels.translate) == pytest.approx((5, 7))
    widget.csv_path.value = tmp_path / "plane1.csv"  # export: the cells, and outlines that open on plane 1
    export(widget)
    cells = pd.read_csv(tmp_path / "plane1.csv")
    assert len(cells) == len(boxes.data) and (cells["plane"] == 1).all() and "area_um2" not in cells  # no units
    [back] = viewer.open(str(tmp_path / "plane1.geojson"), plugin="napari-cytoqa")
    assert back.ndim == 3 and len(back.data) == len(boxes.data) and back.shape_type[0] == "polygon"  # outlines
    for k in (0, len(boxes.data) - 1):  # each outline's extent is its box, on plane 1, where the box was drawn
        world = np.array([back.data_to_world(v) for v in back.data[k]])
        drawn = np.array([boxes.data_to_world(v) for v in boxes.data[k]])
        assert (world[:, 0] == 3.0).all()
        np.testing.assert_allclose(world[:, 1:].min(0), drawn.min(0))
        np.testing.assert_allclose(world[:, 1:].max(0), drawn.max(0))


def test_bfloat16_on_a_device_without_it_warns_that_it_is_slower(viewer_widget, monkeypatch):
    import napari_cytoqa._widgets.detection_widget as module
    import napari_cytoqa.models.precision as precision

    _, widget = viewer_widget
    said = []
    monkeypatch.setattr(module, "show_warning", said.append)
    monkeypatch.setattr(precision, "native_bf16", lambda device="cpu": False)
    widget.bf16.value = True
    assert len(said) == 1 and "no native bfloat16" in said[0] and widget.options()["precision"] == "bf16"
    widget.bf16.value = False
    monkeypatch.setattr(precision, "native_bf16", lambda device="cpu": True)
    widget.bf16.value = True
    assert len(said) == 1  # native: nothing to say


def test_diameter_in_microns_uses_the_layers_pixel_size(run, viewer_widget, monkeypatch):
    from napari_cytoqa._widgets import detection_widget

    viewer, widget = viewer_widget
    image = make_fluorescence((256, 256), seed=5).image
    fine = viewer.add_image(image, name="fine", scale=(0.25, 0.25), units="µm")
    plain = viewer.add_image(image, name="plain")
    widget.image.value, widget.detector.value = fine, "otsu"
    widget.diameter.value, widget.diameter_unit.value = 6, "µm"
    opts = widget.options()
    assert opts["diameter_um"] == 6 and opts["pixel_size"] == pytest.approx((0.25, 0.25))
    assert "diameter" not in opts
    run(widget)
    count = len(viewer.layers["fine boxes"].data)
    density = count / (256 * 256 * 0.25 ** 2 / 1e6)  # cells per mm² of the whole image
    assert widget.status.value.startswith(f"{count}") and f"{density:,.0f}/mm²" in widget.status.value
    warnings = []
    monkeypatch.setattr(detection_widget, "show_warning", warnings.append)
    widget.image.value = plain  # no length units: nothing runs, and the warning says why
    widget.run()
    assert "plain boxes" not in viewer.layers and "records no pixel size" in warnings[0]
    widget.auto_diameter.value = True  # the estimate comes back in pixels
    assert widget.diameter_unit.value == "px" and not widget.diameter_unit.enabled


def test_region_layer_limits_detection_and_places_the_labels(run, viewer_widget, monkeypatch):
    from napari_cytoqa._marks import shapes_region
    from napari_cytoqa._widgets import detection_widget

    viewer, widget = viewer_widget
    sample = make_fluorescence((320, 400), seed=3)
    image = viewer.add_image(sample.image, name="nuclei", scale=(0.5, 0.5), translate=(10.0, 20.0))
    # a rectangle over data pixels 60..249 × 90..329 (world = translate + scale × pixel; pixel edges at ±0.5)
    corners = np.array([[59.5, 89.5], [59.5, 329.5], [249.5, 329.5], [249.5, 89.5]]) * 0.5 + [10.0, 20.0]
    roi = viewer.add_shapes([corners], shape_type="rectangle", name="roi")
    region = shapes_region(roi, image)
    np.testing.assert_allclose(region[0], [[60, 90], [60, 330], [250, 330], [250, 90]])
    viewer.add_shapes([corners[:2]], shape_type="line", name="line only")
    assert shapes_region(viewer.layers["line only"], image) is None  # no area
    widget.image.value, widget.region.value, widget.tile_size.value = image, roi, 256
    run(widget)
    labels, boxes = viewer.layers["nuclei cells"], viewer.layers["nuclei boxes"]
    assert labels.data.shape == (190, 240)  # the region's bounding box only, placed where it lies
    np.testing.assert_allclose(labels.translate, (10.0 + 60 * 0.5, 20.0 + 90 * 0.5))
    assert len(boxes.data) == labels.data.max() > 5
    drawn = np.concatenate(boxes.data)  # the image's pixel coordinates (the layers share its scale)
    assert (drawn.min(0) >= [59.5, 89.5]).all() and (drawn.max(0) <= [249.5, 329.5]).all()
    assert tuple(boxes.translate) == tuple(image.translate)
    warnings = []
    monkeypatch.setattr(detection_widget, "show_warning", warnings.append)
    widget.region.value = viewer.layers["line only"]
    widget.run()
    assert "holds no rectangle or polygon" in warnings[0]


def test_detect_in_every_plane_draws_one_layer_over_the_series(qtbot, viewer_widget, monkeypatch, tmp_path, export):
    import pandas as pd

    from napari_cytoqa import _stack_layers
    from napari_cytoqa.detection import detect_cells

    viewer, widget = viewer_widget
    samples = [make_fluorescence((192, 256), seed=s) for s in (5, 6, 7)]
    frames = [f.image for f in samples]
    stack = np.stack([np.stack([np.zeros_like(f), f]) for f in frames])  # (T, C, Y, X): channel 1 the nuclei
    source = viewer.add_image(stack, name="nuclei", scale=(10.0, 1.0, 0.5, 0.5), translate=(0, 0, 5, 7))
    widget.image.value = source
    assert widget.planes_button.enabled and list(widget.series_axis.choices) == [0, 1]  # T (3) before C (2)
    widget.detector.value = "otsu"
    truth = [np.array([[t, 1, y0, x0], [t, 1, y0, x1], [t, 1, y1, x1], [t, 1, y1, x0]]) - [0, 0, 0.5, 0.5]
             for t, f in enumerate(samples[:2]) for y0, x0, y1, x1 in f.boxes]  # frames 0 and 1 annotated
    widget.truth.value = viewer.add_shapes(truth, shape_type="rectangle", scale=source.scale,
                                           translate=source.translate, name="annotated")
    viewer.dims.set_point(1, 1.0)  # channel 1 on screen
    widget.planes_button.changed.emit(True)
    qtbot.waitUntil(lambda: widget.planes_button.enabled and widget.run_button.enabled, timeout=60000)
    alone = [detect_cells(f, detector="otsu") for f in frames]
    labels, boxes = viewer.layers["nuclei [plane *, 1] cells"], viewer.layers["nuclei [plane *, 1] boxes"]
    assert labels.data.shape == (3, 1, 192, 256)
    for t in range(3):
        np.testing.assert_array_equal(labels.data[t, 0], alone[t].labels)
    assert tuple(labels.translate) == pytest.approx((0, 1, 5, 7)) and tuple(labels.scale) == pytest.approx(
        (10, 1, 0.5, 0.5))
    assert len(boxes.data) == sum(d.count for d in alone) and boxes.ndim == 4
    first = np.asarray(boxes.data[0])  # plane 0's first box, on plane (0, 1), where the source shows that cell
    assert (first[:, :2] == [0, 1]).all()
    centre = first.mean(axis=0)
    assert np.allclose(boxes.data_to_world(centre), source.data_to_world(centre))
    assert boxes.features["plane"].tolist()[-1] == "2, 1"
    shown = widget.plane_table.to_dataframe()
    assert shown["count"].astype(int).tolist() == [d.count for d in alone]
    from napari_cytoqa.detection.compare import truth_scores

    want = [truth_scores(alone[t], samples[t].boxes) for t in range(2)]  # each plane against its own cells
    assert shown["annotated"].astype(int).tolist() == [len(samples[0].boxes), len(samples[1].boxes), 0]
    assert shown["AP@0.5"].tolist() == [str(round(s.ap50, 2)) for s, _ in want] + ["–"]  # plane 2: none
    tp, fp, fn = (sum(getattr(s, k) for s, _ in want) + (alone[2].count if k == "fp" else 0)
                  for k in ("tp", "fp", "fn"))
    assert f"pooled: precision {tp / (tp + fp):.2f}, recall {tp / (tp + fn):.2f}" in widget.status.value
    from napari_cytoqa.detection.compare import truth_errors
    from napari_cytoqa.detection.errors import ErrorKinds, error_line

    kinds = sum((truth_errors(alone[t], samples[t].boxes if t < 2 else np.zeros((0, 4))) for t in range(3)),
                ErrorKinds())  # plane 2 has no annotated cells: its cells are all extra
    assert f"; mistakes: {error_line(kinds)}" in widget.status.value and kinds.extra >= alone[2].count
    widget.truth.value = None
    assert widget.status.value.startswith(f"{sum(d.count for d in alone)} in 3 planes")
    widget.plane_table.native.cellClicked.emit(2, 0)
    assert tuple(np.rint(viewer.dims.point[:2])) == (20.0, 1.0)

    widget.csv_path.value = tmp_path / "series.csv"  # export: every plane's cells, the counts, the boxes
    export(widget)
    cells, counts = pd.read_csv(tmp_path / "series.csv"), pd.read_csv(tmp_path / "series_planes.csv")
    assert cells["plane"].value_counts().sort_index().tolist() == [d.count for d in alone]
    assert counts["count"].tolist() == [d.count for d in alone]
    [back] = viewer.open(str(tmp_path / "series.geojson"), plugin="napari-cytoqa")
    assert back.ndim == 4 and len(back.data) == len(boxes.data)
    world = np.array([back.data_to_world(v) for v in back.data[-1]])  # the last cell's outline, on its plane
    drawn = np.array([boxes.data_to_world(v) for v in boxes.data[-1]])
    np.testing.assert_allclose(world.min(0), drawn.min(0))
    np.testing.assert_allclose(world.max(0), drawn.max(0))
    widget.image.value = viewer.add_image(frames[0], name="flat")  # another layer: its table would be stale
    assert widget.plane_table.native.isHidden() and not widget.planes_button.enabled
    monkeypatch.setattr(_stack_layers, "MAX_BOXES", 5)  # many cells: centres as points, on their planes
    from napari_cytoqa.detection.planes import detect_planes

    found = detect_planes(stack, planes=[(0, 1), (1, 1), (2, 1)], detector="otsu")
    data = _stack_layers.series_detection_layers_data(found, source, axis=0)
    points = [d for d in data if d[2] == "points"][0][0]
    assert points.shape == (sum(d.count for d in alone), 4) and set(points[:, 0]) == {0, 1, 2}


def test_compare_with_annotated_cells_scores_the_run(run, viewer_widget, monkeypatch, tmp_path, export):
    """The status gives the run's AP@0.5, precision, recall and F1 against a Shapes layer of annotated
    cells, the same as evaluate_detections on the same boxes; inside a region only its cells count."""
    from napari_cytoqa._marks import shapes_boxes
    from napari_cytoqa.detection import detect_cells, evaluate_detections
    from napari_cytoqa.detection.region import inside_polygons

    viewer, widget = viewer_widget
    sample = make_fluorescence((256, 320), seed=4)
    image = viewer.add_image(sample.image, name="nuclei", scale=(0.5, 0.5), translate=(3.0, 4.0))
    b = np.asarray(sample.boxes, float) - 0.5  # pixel edges in napari's data coordinates
    rects = [np.array([[y0, x0], [y0, x1], [y1, x1], [y1, x0]]) for y0, x0, y1, x1 in b]
    truth = viewer.add_shapes(rects, shape_type="rectangle", scale=image.scale, translate=image.translate,
                              name="annotated")
    np.testing.assert_allclose(shapes_boxes(truth, image), sample.boxes)
    widget.image.value, widget.truth.value, widget.detector.value = image, truth, "otsu"
    run(widget)
    det = detect_cells(sample.image, detector="otsu")
    s = evaluate_detections([(det.boxes, det.scores)], [sample.boxes], score_threshold=0.0)
    assert 0.3 < s.ap50 < 1.0  # a run with misses and false cells: the figures mean something
    assert (f"vs {len(sample.boxes)} annotated: AP@0.5 {s.ap50:.2f}, precision {s.precision:.2f}, "
            f"recall {s.recall:.2f}, F1 {s.f1:.2f}") in widget.status.value
    from napari_cytoqa.detection.errors import error_kinds, error_line

    kinds = error_kinds(det.boxes, det.scores, truth_boxes=sample.boxes)  # what went wrong, by kind
    assert f"; mistakes: {error_line(kinds)}" in widget.status.value and kinds.extra + kinds.missed > 0
    corners = np.array([[0, 0], [0, 160], [128, 160], [128, 0]]) * 0.5 + [3.0, 4.0]  # the top-left quarter
    widget.region.value = viewer.add_shapes([corners - 0.25], shape_type="rectangle", name="roi")
    run(widget)
    inside = inside_polygons(np.asarray(sample.boxes, float), [np.array([[0, 0], [0, 160], [128, 160], [128, 0]])])
    assert f"vs {int(inside.sum())} annotated" in widget.status.value and inside.sum() < len(sample.boxes)
    from napari_cytoqa._widgets import _cell_results, _jobs

    said = []
    monkeypatch.setattr(_jobs, "show_error", said.append)
    (tmp_path / "a_file").write_text("")  # a "folder" that is a file: one clear error, nothing written
    widget.csv_path.value = tmp_path / "a_file" / "cells.csv"
    export(widget)  # written in a worker: the GUI stays responsive for a whole slide's outlines
    assert "Writing the cells to" in said[0] and "failed" in said[0] and (tmp_path / "a_file").read_text() == ""
    fresh = type(widget)(viewer)  # no run yet: a warning, no file
    monkeypatch.setattr(_cell_results, "show_warning", said.append)
    fresh.export_cells()
    assert said[-1] == "Detect cells first."


def test_compare_with_cells_marked_by_points(run, viewer_widget):
    """A Points layer of clicked cells (or a large QuPath file's cells, opened as centres) is offered in
    "compare with" beside Shapes and Labels layers (not Image layers) and scores the run as
    point_scores does; the points are placed through the layers' scale and translation."""
    from napari_cytoqa.detection import detect_cells
    from napari_cytoqa.detection.compare import point_scores

    viewer, widget = viewer_widget
    sample = make_fluorescence((256, 320), seed=4)
    image = viewer.add_image(sample.image, name="nuclei", scale=(0.5, 0.5), translate=(3.0, 4.0))
    b = np.asarray(sample.boxes, float)
    centres = np.stack([(b[:, 0] + b[:, 2] - 1) / 2, (b[:, 1] + b[:, 3] - 1) / 2], 1)  # napari data coordinates
    clicks = viewer.add_points(centres * 0.5 + [3.0, 4.0], name="clicked")  # drawn in world coordinates
    widget.truth.reset_choices()
    assert [c for c in widget.truth.choices if c is not None] == [clicks]
    widget.image.value, widget.truth.value, widget.detector.value = image, clicks, "otsu"
    run(widget)
    det = detect_cells(sample.image, detector="otsu")
    s, n = point_scores(det, centres + 0.5)
    assert n == len(b) and 0.3 < s.ap50 < 1.0
    assert (f"vs {n} annotated: AP@0.5 {s.ap50:.2f}, precision {s.precision:.2f}, recall {s.recall:.2f}, "
            f"F1 {s.f1:.2f}") in widget.status.value and "points in boxes" in widget.status.value
    from napari_cytoqa.detection.errors import error_kinds, error_line

    assert f"; mistakes: {error_line(error_kinds(det.boxes, det.scores, points=centres + 0.5))}" in widget.status.value


def test_compare_with_a_labels_layer(run, viewer_widget, monkeypatch):
    """A Labels layer of instances (a dataset's mask, corrected cells) scores the run as the boxes of its
    instances do, through both layers' placement; this image's own result layer, which a run redraws,
    is refused with a warning (a duplicate or renamed copy is kept)."""
    from napari_cytoqa._widgets import detection_widget
    from napari_cytoqa.detection import detect_cells
    from napari_cytoqa.detection.compare import score_line, truth_scores

    viewer, widget = viewer_widget
    sample = make_fluorescence((256, 320), seed=4)
    image = viewer.add_image(sample.image, name="nuclei", scale=(0.5, 0.5), translate=(3.0, 4.0))
    half = sample.labels[::2, ::2]  # a mask drawn at half resolution, placed over the same area
    mask = viewer.add_labels(half, name="mask", scale=(1.0, 1.0), translate=(3.25, 4.25))
    widget.image.value, widget.truth.value, widget.detector.value = image, mask, "otsu"
    run(widget)
    det = detect_cells(sample.image, detector="otsu")
    from napari_cytoqa.detection.compare import label_boxes

    want = label_boxes(half) * 2  # the half-resolution boxes in full-resolution pixels
    scores, n = truth_scores(det, want)
    assert n == len(want) > 50 and 0.3 < scores.ap50 <= 1.0
    assert score_line(scores, n) in widget.status.value
    said = []
    monkeypatch.setattr(detection_widget, "show_warning", said.append)
    widget.truth.reset_choices()
    widget.truth.value = viewer.layers["nuclei cells"]
    status = widget.status.value
    widget.run()
    assert "a run replaces" in said[-1] and widget.status.value == status  # nothing ran


def test_a_rerun_keeps_the_cells_you_corrected(run, viewer_widget):
    """Painting the cells layer or removing boxes marks them edited: the next run keeps them, renamed
    "(edited)", and draws its result beside them (before: drawn over the corrections); unedited layers
    are still updated in place; a boxes-only run leaves corrected labels alone; corrected cells can be
    the "compare with" layer of the next run."""
    from napari_cytoqa._layers import EDITED

    viewer, widget = viewer_widget
    sample = make_fluorescence((256, 320), seed=4)
    image = viewer.add_image(sample.image, name="nuclei")
    widget.image.value, widget.detector.value = image, "otsu"
    run(widget)
    cells, boxes, tiles = (viewer.layers[f"nuclei {k}"] for k in ("cells", "boxes", "tile counts"))
    assert not any(layer.metadata.get(EDITED) for layer in (cells, boxes, tiles))
    run(widget)  # nothing edited: updated in place, nothing kept
    assert viewer.layers["nuclei cells"] is cells and "nuclei cells (edited)" not in viewer.layers
    cells.paint((5, 5), 999)  # the user paints a missed cell
    boxes.selected_data = {0}
    boxes.remove_selected()  # and deletes a false box
    n_boxes = len(boxes.data)
    widget.truth.reset_choices()
    widget.truth.value = cells  # corrected cells to compare the next run with
    run(widget)
    assert cells.name == "nuclei cells (edited)" and 999 in cells.data and boxes.name == "nuclei boxes (edited)"
    assert len(boxes.data) == n_boxes and viewer.layers["nuclei cells"] is not cells
    assert viewer.layers["nuclei tile counts"] is tiles  # not edited: updated
    assert "vs " in widget.status.value and "annotated" in widget.status.value  # compared with the corrections
    widget.truth.value = None
    viewer.layers["nuclei cells"].paint((6, 6), 998)
    widget.detector.value = "yolo"  # a boxes-only run removes an unedited cells layer, never an edited one
    run(widget, 300000)
    assert 998 in viewer.layers["nuclei cells"].data and "nuclei cells (edited)" in viewer.layers


def test_export_as_qupath_cells(run, viewer_widget, tmp_path, monkeypatch, export):
    """"QuPath cells (µm)" above 0 exports cell objects grown by that much through the layer's pixel size,
    as write_cells(cell_expansion=...) does; without a pixel size a warning and no file."""
    from napari_cytoqa._widgets import _cell_results
    from napari_cytoqa.detection.export import cells_geojson

    viewer, widget = viewer_widget
    sample = make_fluorescence((192, 192), seed=6)
    image = viewer.add_image(sample.image, name="nuclei", scale=(0.5, 0.5), units=("µm", "µm"))
    widget.image.value, widget.detector.value = image, "otsu"
    run(widget)
    widget.csv_path.value, widget.qupath_cells.value = tmp_path / "cells.csv", 2.0
    export(widget)
    got = json.loads((tmp_path / "cells.geojson").read_text())
    det = widget._found[0]
    want = cells_geojson(det, cell_expansion=4.0)  # 2 µm at 0.5 µm/px
    assert {f["properties"]["objectType"] for f in got["features"]} == {"cell"}
    assert [f["geometry"] for f in got["features"]] == [f["geometry"] for f in want["features"]]
    plain = viewer.add_image(sample.image, name="plain")
    widget.image.value = plain
    run(widget)
    said = []
    monkeypatch.setattr(_cell_results, "show_warning", said.append)
    widget.csv_path.value = tmp_path / "plain.csv"
    widget.export_cells()
    assert "no pixel size" in said[-1] and not (tmp_path / "plain.csv").exists()
