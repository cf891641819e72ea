import numpy as np
import pandas as pd
import pytest

from napari_cytoqa._layers import TEXT_PER_TILE
from napari_cytoqa._widgets.qc_widget import QualityControlWidget
from napari_cytoqa.synthetic.samples import smear_with_blurry_region


@pytest.fixture
def viewer_widget(docked):
    return docked(QualityControlWidget)


@pytest.fixture
def run(run_job):
    return lambda widget, timeout=60000: run_job(widget, timeout)


def test_model_dropdown_is_fed_by_the_registry(viewer_widget, tmp_path, monkeypatch):
    from napari_cytoqa.models import ModelSpec, save_model
    from napari_cytoqa.models.architectures import QualityNet

    viewer, widget = viewer_widget
    assert widget.method.value == "learned" and widget.model.value == "cytoqa-quality"
    monkeypatch.setenv("CYTOQA_MODELS_DIR", str(tmp_path))
    save_model(QualityNet(widths=(4, 8)), ModelSpec(name="my-finetuned", task="quality",
               architecture="quality_net", weights="my.safetensors", sha256="",
               config={"widths": [4, 8]}), tmp_path)
    widget.reset_choices()  # napari calls this when layers change
    assert "my-finetuned" in [c for c in widget.model.choices]
    widget.method.value = "classical"
    assert not widget.model.enabled


def test_run_draws_shapes_overlay_and_updates_on_rerun(run, viewer_widget, tmp_path, monkeypatch, export):
    viewer, widget = viewer_widget
    sample = smear_with_blurry_region((512, 1024), level=8)
    source = viewer.add_image(sample.image, name="smear", scale=(0.5, 0.5))
    before = sample.image.copy()
    widget.image.value = source
    widget.tile_size.value = 128
    run(widget)
    overlay = viewer.layers["smear QC"]
    assert overlay._type_string == "shapes" and len(overlay.data) == 32
    feats = overlay.features
    assert {"verdict", "p_blurry", "blur_level", "grade"} <= set(feats.columns)
    assert (feats.verdict == "sharp").sum() >= 12 and (feats.verdict == "blurry").sum() >= 10
    assert tuple(overlay.scale) == pytest.approx((0.5, 0.5))
    # labels zoom with the image and are sized to the tile (world units: 128 px × 0.5)
    assert overlay.text.scaling and overlay.text.size == pytest.approx(TEXT_PER_TILE * 64)
    assert "grade" in widget.verdict.value
    assert np.array_equal(source.data, before)  # user layer untouched
    # re-run with another tile size updates the same layer
    widget.tile_size.value = 256
    run(widget)
    assert [layer.name for layer in viewer.layers].count("smear QC") == 1
    assert len(viewer.layers["smear QC"].data) == 8
    assert len(viewer.layers["smear QC"].features) == 8
    assert viewer.layers["smear QC"].text.size == pytest.approx(TEXT_PER_TILE * 128)
    # the number formats: auto by default; fp32 and the int8 network give the same verdicts on this clear case
    assert widget.options()["precision"] == "auto" and "device" not in widget.options()
    before = viewer.layers["smear QC"].features.verdict.tolist()
    for precision in ("fp32", "int8"):
        widget.precision.value = precision
        assert widget.options()["precision"] == precision
        assert ("device" in widget.options()) == (precision == "int8")
        run(widget)
        assert viewer.layers["smear QC"].features.verdict.tolist() == before
    widget.method.value = "classical"
    assert not widget.precision.enabled and "precision" not in widget.options()
    widget.method.value = "learned"
    # export
    widget.csv_path.value = tmp_path / "tiles.csv"
    export(widget)
    assert len(pd.read_csv(tmp_path / "tiles.csv")) == 8
    # an unwritable path (a file where the folder should be) is a message, not an exception, and no file
    errors = []
    monkeypatch.setattr("napari_cytoqa._widgets._jobs.show_error", errors.append)
    (tmp_path / "not a folder").write_text("")
    widget.csv_path.value = tmp_path / "not a folder" / "tiles.csv"
    export(widget)
    assert len(errors) == 1 and "not a folder" in errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not a folder", "tiles.csv"]


def test_many_tiles_switch_to_image_overlay(run, viewer_widget, monkeypatch):
    import napari_cytoqa._layers as layers

    monkeypatch.setattr(layers, "MAX_SHAPES", 20)
    viewer, widget = viewer_widget
    img = smear_with_blurry_region((256, 512), level=8).image
    widget.image.value = viewer.add_image(img, name="big")
    widget.tile_size.value = 64
    run(widget)
    overlay = viewer.layers["big QC"]
    assert overlay._type_string == "image" and overlay.data.shape == (4, 8, 4)
    assert tuple(overlay.scale) == pytest.approx((64, 64))
    # tile (0, 0) covers level-0 pixels 0..63: its world extent starts at -0.5
    assert overlay.translate[0] - overlay.scale[0] / 2 == pytest.approx(-0.5)


def test_stop_button_aborts(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    img = np.tile(smear_with_blurry_region((256, 256)).image, (8, 8, 1))
    widget.image.value = viewer.add_image(img, name="large")
    widget.tile_size.value = 64
    widget.run()
    assert widget.stop_button.enabled and not widget.run_button.enabled
    with qtbot.waitSignal(widget.worker.aborted, timeout=30000):
        widget.stop_button.changed.emit(True)
    qtbot.waitUntil(lambda: widget.run_button.enabled, timeout=5000)
    assert "large QC" not in viewer.layers and widget.verdict.value == "stopped"


def test_bad_layer_reports_error(run, viewer_widget):
    viewer, widget = viewer_widget
    widget.image.value = viewer.add_image(np.zeros((3, 10, 10), np.uint8), name="stack")  # planes too small
    run(widget, 30000)
    assert widget.verdict.value == "failed" and not any("QC" in layer.name for layer in viewer.layers)


def test_a_stack_is_checked_on_the_plane_on_screen(run, viewer_widget, tmp_path, export):
    from napari_cytoqa import assess_quality

    viewer, widget = viewer_widget
    sharp = smear_with_blurry_region((256, 512), level=0).image
    blurry = smear_with_blurry_region((256, 512), level=9).image
    stack = np.stack([sharp, blurry, sharp])  # (Z, Y, X, RGB)
    widget.image.value = viewer.add_image(stack, name="focus stack", rgb=True, scale=(2.0, 0.5, 0.5))
    widget.tile_size.value = 128
    viewer.dims.set_point(0, 2.0)  # world z = 2 µm: plane 1
    run(widget)
    overlay = viewer.layers["focus stack [plane 1] QC"]
    expected = assess_quality(blurry, tile_size=128)
    assert overlay.features["verdict"].tolist() == expected.tiles["verdict"].tolist()
    assert tuple(overlay.scale) == pytest.approx((0.5, 0.5))
    viewer.dims.set_point(0, 0.0)
    run(widget)
    assert "focus stack [plane 0] QC" in viewer.layers and "focus stack [plane 1] QC" in viewer.layers
    assert viewer.layers["focus stack [plane 0] QC"].features["verdict"].tolist() == \
        assess_quality(sharp, tile_size=128).tiles["verdict"].tolist()
    widget.csv_path.value = tmp_path / "tiles.csv"  # the export is the last run's table
    export(widget)
    assert len(pd.read_csv(tmp_path / "tiles.csv")) == len(expected.tiles)


def test_judge_at_nominal_scale_uses_the_layers_pixel_size(run, viewer_widget, monkeypatch):
    from napari_cytoqa.synthetic import smear_series

    viewer, widget = viewer_widget
    image = smear_series((512, 512), [0], scale=2.0, seed=3)[0].image
    fine = viewer.add_image(image, name="fine", scale=(0.25, 0.25), units="µm")
    plain = viewer.add_image(image, name="plain")
    widget.image.value = fine
    assert "pixel_size" not in widget.options(fine)  # off by default, with a hint where it would bin
    said = []
    monkeypatch.setattr("napari_cytoqa._widgets.qc_widget.show_warning", said.append)
    widget._options_warned(fine)
    assert len(said) == 1 and said[0].startswith("fine: analysed at its own 0.25 µm/px, 2x finer")
    widget._options_warned(plain)  # no pixel size: nothing to say
    assert len(said) == 1
    widget.match_scale.value = True
    assert widget.options(fine)["pixel_size"] == pytest.approx((0.25, 0.25))
    assert widget.options(plain)["pixel_size"] is None
    widget.tile_size.value = 256
    run(widget)
    meta = viewer.layers["fine QC"].metadata["cytoqa_report"]
    assert meta["binning"] == 2 and meta["pixel_size_um"] == pytest.approx(0.25)
    assert "2× binned" in widget.verdict.value
    widget.image.value = plain  # no length units: analysed at its own pixels, with a warning
    run(widget)
    assert viewer.layers["plain QC"].metadata["cytoqa_report"]["binning"] == 1


def test_assume_cell_images_lifts_the_validity_gate(run, viewer_widget):
    from napari_cytoqa.synthetic.noncell import make_non_cell

    viewer, widget = viewer_widget
    widget.image.value = viewer.add_image(make_non_cell((512, 512), kind="text", seed=70_004), name="text")
    widget.tile_size.value = 256
    assert "assume_valid" not in widget.options()  # off by default
    run(widget)
    assert viewer.layers["text QC"].metadata["cytoqa_report"]["verdict"] == "invalid"
    widget.assume_cells.value = True
    assert widget.options()["assume_valid"] is True
    run(widget)
    meta = viewer.layers["text QC"].metadata["cytoqa_report"]
    assert meta["validity"] == "assumed" and meta["verdict"] in ("sharp", "blurry")
    assert "validity assumed" in widget.verdict.value


def test_stain_check_box(run, viewer_widget, unsure_network):
    from napari_cytoqa.synthetic.tissue import tissue_series

    viewer, widget = viewer_widget
    widget.image.value = viewer.add_image(tissue_series((512, 512), [0], seed=5)[0].image, name="he")
    widget.tile_size.value = 256
    assert widget.stain_check.value and "stain_check" not in widget.options()  # on: the core's default
    run(widget)
    meta = viewer.layers["he QC"].metadata["cytoqa_report"]
    assert meta["validity"] == "stain" and meta["stain_check"]["section"] is True
    assert "by its H&E colour" in widget.verdict.value
    widget.stain_check.value = False
    assert widget.options()["stain_check"] is False
    run(widget)
    meta = viewer.layers["he QC"].metadata["cytoqa_report"]
    assert meta["verdict"] == "invalid" and meta["stain_check"] == {}


def test_judge_every_plane_lists_them_and_shows_the_sharpest(run_job, qtbot, viewer_widget, tmp_path, export):
    from napari_cytoqa.synthetic.smear import fluorescence_series

    viewer, widget = viewer_widget
    from napari_cytoqa import assess_planes, compose_sharpest

    assert not widget.planes_button.enabled and not widget.series_axis.choices  # no layer yet
    assert not widget.compose_button.enabled
    widget.image.value = viewer.add_image(np.zeros((64, 64), np.uint8), name="flat")
    assert not widget.planes_button.enabled  # a 2-D image has one plane
    z = np.stack([s.image for s in fluorescence_series((256, 256), [6, 3, 0, 5, 10], seed=4)])
    # (Z, C, Y, X): channel 1 at blur levels 6 3 0 5 10 (in focus at z = 2), channel 0 at 3 0 6 5 10 (z = 1)
    stack = np.stack([z[[1, 2, 0, 3, 4]], z], axis=1)
    layer = viewer.add_image(stack, name="zc", scale=(2.0, 1.0, 0.5, 0.5))
    widget.image.value = layer
    assert widget.planes_button.enabled and widget.series_axis.value == 0  # Z (5 planes) before C (2)
    assert list(widget.series_axis.choices) == [0, 1]
    assert widget.series_axis.native.itemText(0) == "axis 0 (5 planes)"  # not napari's default label "-4"
    widget.tile_size.value = 128
    widget.method.value = "classical"
    viewer.dims.set_point(1, 1.0)  # channel 1 on screen
    widget.planes_button.changed.emit(True)
    qtbot.waitUntil(lambda: widget.planes_button.enabled and widget.run_button.enabled, timeout=60000)
    assert not widget.plane_table.native.isHidden()  # shown (the viewer window itself is not)
    shown = widget.plane_table.to_dataframe()
    assert shown.index.tolist() == [f"{k}, 1" for k in range(5)] and shown.columns[0] == "verdict"
    assert widget.verdict.value.startswith("sharpest plane 2, 1: blur level")
    assert tuple(np.rint(viewer.dims.point[:2])) == (4.0, 1.0)  # moved to z = 2 (world 4 µm), channel 1
    overlay = viewer.layers["zc [plane 2, 1] QC"]
    from napari_cytoqa import assess_quality
    assert overlay.features["verdict"].tolist() == \
        assess_quality(stack[2, 1], tile_size=128, method="classical").tiles["verdict"].tolist()
    assert [i.row() for i in widget.plane_table.native.selectionModel().selectedRows()] == [2]
    assert widget.compose_button.enabled
    widget.compose_button.changed.emit(True)
    qtbot.waitUntil(lambda: widget.compose_button.enabled and "zc [plane *, 1] [sharpest tiles]" in viewer.layers,
                    timeout=30000)
    composite = viewer.layers["zc [plane *, 1] [sharpest tiles]"]
    assert tuple(composite.scale) == pytest.approx((0.5, 0.5)) and composite.colormap.name == layer.colormap.name
    expected = compose_sharpest(stack[:, 1], assess_planes(stack[:, 1], tile_size=128, method="classical"))
    np.testing.assert_array_equal(composite.data, expected)
    widget.plane_table.native.cellClicked.emit(4, 0)  # a row clicked: its plane on screen
    assert tuple(np.rint(viewer.dims.point[:2])) == (8.0, 1.0)
    widget.csv_path.value = tmp_path / "zc.csv"
    export(widget)
    planes = pd.read_csv(tmp_path / "zc_planes.csv")
    assert len(planes) == 5 and planes.blur_level.idxmin() == 2 and len(pd.read_csv(tmp_path / "zc.csv")) == 4
    viewer.dims.set_point(1, 0.0)  # channel 0: its own series
    widget.planes_button.changed.emit(True)
    qtbot.waitUntil(lambda: widget.planes_button.enabled and widget.run_button.enabled, timeout=60000)
    assert widget.verdict.value.startswith("sharpest plane 1, 0") and tuple(np.rint(viewer.dims.point[:2])) == (2.0, 0.0)
    widget.image.value = viewer.layers["flat"]  # another layer: the plane table, of zc, is hidden
    assert widget.plane_table.native.isHidden() and not widget.planes_button.enabled
    widget.image.value = layer
    run_job(widget, 60000)  # a plain run on the plane on screen: the export is its tile table alone
    assert not widget.compose_button.enabled and widget.planes_button.enabled
    (tmp_path / "zc_planes.csv").unlink()
    export(widget)
    assert not (tmp_path / "zc_planes.csv").exists()


def test_stop_ends_judging_every_plane(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    img = np.tile(smear_with_blurry_region((256, 256)).image, (4, 4, 1))
    widget.image.value = viewer.add_image(np.stack([img] * 4), name="tall", rgb=True)  # 4 planes of 1024 px
    widget.tile_size.value = 64
    widget.judge_planes()
    assert widget.stop_button.enabled and not widget.planes_button.enabled and not widget.compose_button.enabled
    with qtbot.waitSignal(widget.worker.aborted, timeout=30000):
        widget.stop_button.changed.emit(True)
    qtbot.waitUntil(lambda: widget.run_button.enabled, timeout=5000)
    assert widget.verdict.value == "stopped" and widget.planes_button.enabled and not widget.compose_button.enabled
    assert not any(layer.name.endswith("QC") for layer in viewer.layers)


def test_compare_with_areas_marked_blurry(run, viewer_widget):
    """"compare with" a Shapes layer outlining the out-of-focus part (drawn in world coordinates over a
    µm-scaled image): the verdict gains the tiles' accuracy against it, as quality.compare computes on the
    overlay's tiles; areas classified sharp/blurry (a QuPath import's class feature) count too, and so does a
    Labels layer painted where it is blurry (placed through both layers' scale and translation)."""
    import pandas as pd

    from napari_cytoqa.quality.compare import focus_line, focus_scores, tile_truth

    viewer, widget = viewer_widget
    sample = smear_with_blurry_region((512, 1024), level=8)
    source = viewer.add_image(sample.image, name="smear", scale=(0.5, 0.5))
    ring = np.array([[0, 614], [0, 1024], [512, 1024], [512, 614]], float)  # level-0 pixel edges (y, x)
    marked = viewer.add_shapes([(ring - 0.5) * 0.5], shape_type="polygon", name="out of focus")
    widget.image.value, widget.truth.value, widget.tile_size.value = source, marked, 128
    run(widget)
    tiles = viewer.layers["smear QC"].metadata["cytoqa_tiles"]
    want = focus_scores(tiles, tile_truth(tiles, [ring]))
    assert want["tiles"] == 32 and want["accuracy"] > 0.8
    assert focus_line(want, "out of focus") in widget.verdict.value
    left = np.array([[0, 0], [0, 400], [512, 400], [512, 0]], float)
    classified = viewer.add_shapes([(left - 0.5) * 0.5, (ring - 0.5) * 0.5], shape_type="polygon", name="classes",
                                   features=pd.DataFrame({"class": ["Sharp", "Blurry"]}))
    widget.truth.value = classified
    run(widget)
    want = focus_scores(tiles, tile_truth(tiles, [left, ring], ["Sharp", "Blurry"]))
    assert want["tiles"] < 32 and focus_line(want, "classes") in widget.verdict.value
    from napari_cytoqa.quality.compare import mask_truth

    painted = np.zeros((256, 512), np.uint8)  # painted at half resolution over the same area
    painted[:, 307:] = 1
    brush = viewer.add_labels(painted, name="painted", scale=(1.0, 1.0), translate=(0.25, 0.25))
    widget.truth.reset_choices()
    assert "smear QC" not in [getattr(c, "name", None) for c in widget.truth.choices]  # our overlay is no mark
    widget.truth.value = brush
    run(widget)
    want = focus_scores(tiles, mask_truth(tiles, painted, lambda yx: (yx - 0.5) / 2))
    assert want["tiles"] == 32 and focus_line(want, "painted") in widget.verdict.value
    # marks that contradict the check (the in-focus left part marked blurry): those tiles outlined in red
    wrong = viewer.add_shapes([(left - 0.5) * 0.5], shape_type="polygon", name="wrong",
                              features=pd.DataFrame({"class": ["Blurry"]}))
    widget.truth.reset_choices()
    widget.truth.value = wrong
    run(widget)
    truth = tile_truth(tiles, [left], ["Blurry"])  # only blurry marked: the rest counts as sharp
    verdict = tiles["verdict"].to_numpy()
    expected = np.isin(verdict, ["sharp", "blurry"]) & (truth != "") & (verdict != truth)
    shown = viewer.layers["smear QC vs marks"]
    assert ((verdict == "sharp") & (truth == "blurry")).sum() > 3 and len(shown.data) == expected.sum()
    assert shown.features["marked"].tolist() == list(truth[expected])
    np.testing.assert_allclose(np.array(shown.data)[:, 0], tiles.loc[expected, ["y0", "x0"]].to_numpy() - 0.5)
    assert tuple(shown.scale) == pytest.approx((0.5, 0.5))  # placed as the image, like the overlay
    widget.truth.reset_choices()
    assert "smear QC vs marks" not in [getattr(c, "name", None) for c in widget.truth.choices]  # no mark itself
    widget.truth.value = marked  # marks the check agrees with everywhere: the red layer goes
    run(widget)
    agree = focus_scores(tiles, tile_truth(tiles, [ring]))
    assert ("smear QC vs marks" in viewer.layers) == (agree["accuracy"] < 1)
    widget.truth.value = wrong
    run(widget)
    assert "smear QC vs marks" in viewer.layers
    widget.truth.value = None  # a run compared with nothing: the red tiles of an earlier run go
    run(widget)
    assert "smear QC vs marks" not in viewer.layers


def test_judge_every_plane_compares_each_plane_with_the_marked_areas(qtbot, viewer_widget, tmp_path, export):
    """After "Judge every plane", a "compare with" layer scores every plane: columns marked / accuracy in
    the plane table (as quality.compare computes on each plane's tiles; a 2-D layer's areas count on every
    plane) and the pooled scores in the status."""
    from napari_cytoqa.quality.compare import focus_scores, tile_truth

    viewer, widget = viewer_widget
    blurry = smear_with_blurry_region((512, 1024), level=8).image  # the right part defocused
    sharp = smear_with_blurry_region((512, 1024), level=0).image
    widget.image.value = viewer.add_image(np.stack([blurry, sharp]), name="two", rgb=True)
    ring = np.array([[0, 614], [0, 1024], [512, 1024], [512, 614]], float)
    widget.truth.value = viewer.add_shapes([ring - 0.5], shape_type="polygon", name="right part")
    widget.tile_size.value = 128
    widget.planes_button.changed.emit(True)
    qtbot.waitUntil(lambda: widget.planes_button.enabled and widget.run_button.enabled, timeout=60000)
    shown = widget.plane_table.to_dataframe()
    verdicts, truths = [], []
    for k in range(2):
        tiles = widget._series.reports[(k,)].tiles
        truth = tile_truth(tiles, [ring])
        want = focus_scores(tiles, truth)
        assert int(shown["marked"].iloc[k]) == want["tiles"] == 32
        assert float(shown["accuracy"].iloc[k]) == round(want["accuracy"], 2)
        verdicts.append(np.asarray(tiles["verdict"], dtype=object))
        truths.append(truth)
    # the in-focus plane contradicts the marks: its right part is called sharp
    assert float(shown["accuracy"].iloc[1]) < float(shown["accuracy"].iloc[0])
    pooled = focus_scores({"verdict": np.concatenate(verdicts)}, np.concatenate(truths))
    assert pooled["tiles"] == 64
    assert widget.verdict.value.endswith(f"all 2 planes vs 64 marked tiles: accuracy {pooled['accuracy']:.0%}, "
                                         f"blurry found {pooled['blurry_recall']:.0%}, sharp kept "
                                         f"{pooled['sharp_recall']:.0%}")
    # the export: the shown (sharpest) plane's tiles with each one's mark, every plane's scores as cytoqa qc's
    widget.csv_path.value = tmp_path / "two.csv"
    export(widget)
    best = widget._series.sharpest
    assert pd.read_csv(tmp_path / "two.csv")["marked"].tolist() == list(truths[best[0]])
    planes = pd.read_csv(tmp_path / "two_planes.csv")
    assert planes["truth_tiles"].tolist() == [32, 32]
    assert [round(v, 2) for v in planes["focus_accuracy"]] == shown["accuracy"].astype(float).tolist()
