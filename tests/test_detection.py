"""Detection core: metrics against hand-computed cases, instance separation, tile merging."""
import numpy as np
import pytest

from napari_cytoqa.detection import (average_precision, box_iou, boxes_from_labels, count_ape, detect_cells,
                                     evaluate_detections, match, merge_boxes, merge_labels, nms, otsu_watershed,
                                     pixel_scores, polarity_of, split_instances)
from napari_cytoqa.tiling import tile_grid


def test_box_iou_hand_computed():
    a = [[0, 0, 10, 10]]
    b = [[5, 5, 15, 15], [0, 0, 10, 10], [20, 20, 30, 30]]
    np.testing.assert_allclose(box_iou(a, b), [[25 / 175, 1.0, 0.0]])
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)


def test_greedy_matching_counts_duplicates_as_false_positives():
    gt = [[0, 0, 10, 10]]
    preds = [[0, 0, 10, 10], [1, 0, 11, 10]]  # both overlap the one cell
    assert match(preds, [0.6, 0.9], gt).tolist() == [False, True]  # the higher score wins
    from napari_cytoqa.detection.metrics import assign

    gt2 = gt + [[20, 20, 30, 30]]
    assert assign(preds + [[20, 21, 30, 31]], [0.6, 0.9, 0.5], gt2).tolist() == [-1, 0, 1]  # which cell each took


def test_average_precision_hand_computed():
    # 3 cells; predictions by score: TP, FP, TP, FP -> envelope 1 up to recall 1/3, 2/3 up to 2/3
    assert average_precision([True, False, True, False], [0.9, 0.8, 0.7, 0.6], 3) == pytest.approx(5 / 9)
    assert average_precision([True, True], [0.9, 0.8], 2) == pytest.approx(1.0)
    assert average_precision([], [], 4) == 0.0
    assert np.isnan(average_precision([False], [0.5], 0))


def test_evaluate_detections_hand_computed():
    gt1 = [[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50], [60, 60, 70, 70]]
    p1 = ([[0, 0, 10, 10], [20, 20, 30, 30], [80, 80, 90, 90], [40, 40, 50, 50]], [0.9, 0.8, 0.7, 0.3])
    gt2 = [[0, 0, 10, 10], [20, 20, 30, 30]]
    p2 = ([[0, 0, 10, 10], [50, 50, 60, 60], [21, 21, 31, 31]], [0.95, 0.6, 0.55])
    s = evaluate_detections([p1, p2], [gt1, gt2], score_threshold=0.5)
    # at 0.5: image 1 keeps 3 (2 TP, 1 FP, 2 FN); image 2 keeps 3 (2 TP: IoU(21..31, 20..30)=81/119, 1 FP)
    assert (s.tp, s.fp, s.fn) == (4, 2, 2)
    assert s.precision == pytest.approx(4 / 6) and s.recall == pytest.approx(4 / 6)
    assert s.f1 == pytest.approx(4 / 6)
    # counts: image 1 predicts 3 of 4 (APE 0.25), image 2 predicts 3 of 2 (APE 0.5)
    assert s.count_mape == pytest.approx(0.375)
    assert s.tp_mape == pytest.approx((0.5 + 0.0) / 2)
    # AP over all 7 predictions by score: .95T .9T .8T .7F .6F .55T .3T with 6 cells
    flags = [True, True, True, False, False, True, True]
    assert s.ap50 == pytest.approx(average_precision(flags, [0.95, 0.9, 0.8, 0.7, 0.6, 0.55, 0.3], 6))
    # recall steps 1/6, 2/6, 3/6 at precision 1, then 4/6 and 5/6 where the envelope is 5/7 (the
    # precision at recall 5/6 exceeds the 4/6 reached at recall 4/6)
    assert s.ap50 == pytest.approx(3 / 6 * 1 + 2 / 6 * (5 / 7))
    assert count_ape(3, 4) == 0.25 and np.isnan(count_ape(1, 0))


def test_pixel_scores_hand_computed():
    s = pixel_scores([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0])
    assert (s["precision"], s["recall"], s["f1"]) == (0.5, 0.5, 0.5)
    assert s["pr_auc"] == pytest.approx(0.5 * 1 + 0.5 * (2 / 3))
    assert pixel_scores([0.2, 0.9], [0, 7])["pr_auc"] == pytest.approx(1.0)  # instance ids count as foreground


def _disc(shape, cy, cx, r):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def test_watershed_separates_touching_cells_that_connected_components_merge():
    mask = _disc((80, 120), 40, 40, 15) | _disc((80, 120), 40, 66, 15)  # overlapping by 4 px
    from scipy import ndimage as ndi

    assert ndi.label(mask)[1] == 1  # what seed 003's region-properties step saw: one cell
    labels = split_instances(mask)
    assert labels.max() == 2
    boxes = boxes_from_labels(labels)
    truth = [[25, 25, 56, 56], [25, 51, 56, 82]]
    assert match(boxes, [1, 1], truth).all()
    # one elongated cell stays one
    ellipse = ((np.mgrid[:60, :120][0] - 30) / 10) ** 2 + ((np.mgrid[:60, :120][1] - 60) / 30) ** 2 <= 1
    assert split_instances(ellipse).max() == 1
    assert split_instances(np.zeros((10, 10), bool)).max() == 0


@pytest.mark.parametrize("polarity", ["dark_on_light", "light_on_dark"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_baseline_both_polarities_and_dtypes(polarity, dtype):
    rng = np.random.default_rng(0)
    centres = [(30, 30), (30, 90), (90, 40), (95, 100), (60, 150)]
    cells = np.zeros((130, 190), bool)
    for cy, cx in centres:
        cells |= _disc(cells.shape, cy, cx, 10)
    full = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1.0
    bright, dark = 0.85 * full, 0.2 * full
    img = np.where(cells, dark, bright) if polarity == "dark_on_light" else np.where(cells, bright, dark)
    img = (img + rng.normal(0, 0.02 * full, img.shape)).clip(0, full).astype(dtype)
    assert polarity_of(img) == polarity
    labels = otsu_watershed(img)
    assert labels.max() == 5
    det = detect_cells(np.dstack([img] * 3) if dtype == np.uint8 else img, detector="otsu", tile_size=64,
                       overlap=32)
    assert det.count == 5 and det.labels.max() == 5


def test_tile_merging_keeps_every_cell_once_and_whole():
    shape = (300, 340)
    rng = np.random.default_rng(3)
    truth = np.zeros(shape, np.int32)
    n = 0
    for cy, cx in rng.uniform(12, [288, 328], size=(60, 2)):
        disc = _disc(shape, cy, cx, 9)
        if (truth[disc] == 0).all():
            n += 1
            truth[disc] = n
    grid = tile_grid(shape, 96, stride=64, edge="shift")  # 32 px overlap > cell diameter 19
    from scipy import ndimage as ndi

    per_tile = [ndi.label(truth[int(b[0]):int(b[2]), int(b[1]):int(b[3])] > 0)[0] for b in grid.boxes]
    merged = merge_labels(per_tile, grid.boxes, shape)
    assert merged.max() == n  # no duplicates, none lost
    for i in range(1, n + 1):  # every cell whole: one merged label covers exactly its pixels
        vals = np.unique(merged[truth == i])
        assert len(vals) == 1 and vals[0] > 0 and (merged == vals[0]).sum() == (truth == i).sum()
    # boxes: the same through merge_boxes
    per_boxes = []
    for lab, b in zip(per_tile, grid.boxes):
        bx = boxes_from_labels(lab) + [b[0], b[1], b[0], b[1]]
        per_boxes.append((bx, np.ones(len(bx))))
    boxes, scores, _ = merge_boxes(per_boxes, grid.boxes)
    assert len(boxes) == n and match(boxes, scores, boxes_from_labels(truth)).all()


def test_nms_and_detect_cells_errors():
    keep = nms([[0, 0, 10, 10], [1, 1, 11, 11], [30, 30, 40, 40]], [0.5, 0.9, 0.1])
    assert keep.tolist() == [1, 2]
    with pytest.raises(ValueError, match="unknown detector"):
        detect_cells(np.zeros((64, 64)), detector="nope")
    with pytest.raises(ValueError, match="3-D stack"):
        detect_cells(np.zeros((5, 64, 64)))
    with pytest.raises(ValueError, match="otsu"):
        detect_cells(np.zeros((64, 64)), detector="otsu", routing="blur")
    for detector in ("otsu", "unet"):  # a blank field: no cells, no crash
        det = detect_cells(np.zeros((64, 64), np.uint8), detector=detector)
        assert det.count == 0 and det.to_dataframe().empty
    mask = np.zeros((96, 96), bool)  # a boolean image (a thresholded layer), resampled with diameter=
    mask[20:50, 20:50] = mask[60:90, 55:85] = True
    for detector in ("otsu", "unet"):
        assert detect_cells(mask, detector=detector, diameter=30).count == 2


def test_cell_areas_and_diameters_in_pixels_microns_and_level_0():
    from napari_cytoqa.detection import Detections

    labels = np.zeros((40, 60), np.int32)
    labels[2:12, 3:13] = 1  # 100 px
    labels[20:24, 30:34] = 2  # 16 px
    boxes = boxes_from_labels(labels)
    det = Detections(boxes=boxes, scores=np.array([0.9, 0.8]), labels=labels, route=np.array(["m", "m"], object),
                     focus=np.array([np.nan, np.nan]), detector="unet")
    assert det.areas.tolist() == [100, 16]
    df = det.to_dataframe()
    assert df["area_px"].tolist() == [100, 16] and df["diameter_px"].tolist() == pytest.approx(
        [np.sqrt(400 / np.pi), np.sqrt(64 / np.pi)])
    assert "area_um2" not in df
    df = det.to_dataframe((0.5, 0.25), downsample=2)  # analysed at level 1 of a 0.5 x 0.25 µm/px slide
    assert df["area_px"].tolist() == [400, 64] and df[["y0", "x0", "y1", "x1"]].iloc[0].tolist() == [4, 6, 24, 26]
    assert df["area_um2"].tolist() == pytest.approx([400 * 0.125, 64 * 0.125])
    assert df["diameter_um"].tolist() == pytest.approx(np.sqrt(4 * df["area_um2"] / np.pi).tolist())
    feature = det.to_geojson(downsample=2)["features"][0]
    ring = feature["geometry"]["coordinates"][0]
    assert ring[0] == [6.0, 4.0] and ring[2] == [26.0, 24.0]
    assert feature["properties"]["area_px"] == 400 and feature["properties"]["measurements"]["area_px"] == 400
    assert feature["properties"]["measurements"]["score"] == 0.9 and "focus" not in feature["properties"]["measurements"]
    assert feature["properties"]["classification"] == {"name": "m"} and feature["properties"]["focus"] is None
    boxes_only = Detections(boxes=boxes, scores=det.scores, labels=None, route=det.route, focus=det.focus,
                            detector="yolo")
    assert boxes_only.areas is None and "area_px" not in boxes_only.to_dataframe(0.5)
    assert "area_px" not in boxes_only.to_geojson()["features"][0]["properties"]


def test_centre_map_cores_split_touching_cells():
    from napari_cytoqa.detection.unet import centre_map, instances_from_maps

    truth = np.zeros((80, 120), np.int32)
    truth[_disc(truth.shape, 40, 40, 15)] = 1
    truth[_disc(truth.shape, 40, 66, 15) & (truth == 0)] = 2
    c = centre_map(truth)
    assert c.max() == pytest.approx(1.0) and c[truth == 0].max() == 0
    assert c[40, 40] == pytest.approx(1.0) and c[40, 53] < 0.2  # low where the cells touch
    labels = instances_from_maps((truth > 0).astype(float), c)
    assert labels.max() == 2
    assert match(boxes_from_labels(labels), [1, 1], boxes_from_labels(truth)).all()


def test_scene_recipe_2_spreads_nucleus_size_and_shape():
    from skimage.measure import regionprops

    from napari_cytoqa.detection.unet_task import scene_series

    def shapes(recipe):
        rng = np.random.default_rng(5)
        props = [regionprops(scene_series(rng, scene, (128, 128), [0], recipe)[0].labels)
                 for scene in range(1, 24, 2)]  # odd scenes: fluorescence nuclei
        ratio = [p.axis_major_length / max(p.axis_minor_length, 1) for ps in props for p in ps if p.area > 50]
        size = [np.median([p.equivalent_diameter_area for p in ps]) for ps in props]
        return np.median(ratio), np.ptp(size)

    (ratio1, spread1), (ratio2, spread2) = shapes(1), shapes(2)
    assert ratio2 > ratio1 + 0.1 and spread2 > 2 * spread1
    with pytest.raises(ValueError, match="recipe"):
        scene_series(np.random.default_rng(0), 0, (64, 64), [0], recipe=7)


def test_scene_recipe_mix_takes_recipes_in_turn_by_pairs_of_scenes():
    from napari_cytoqa.detection.unet_task import format_recipe, parse_recipe, scene_recipe, scene_series

    assert [scene_recipe((1, 3), s) for s in range(8)] == [1, 1, 3, 3, 1, 1, 3, 3]  # smears and fields both cycle
    assert scene_recipe(2, 7) == 2
    assert parse_recipe("3") == 3 and parse_recipe("1,3") == (1, 3) and format_recipe((1, 3)) == "1,3"
    for bad in ("1,7", "x", ""):
        with pytest.raises(ValueError, match="recipe"):
            parse_recipe(bad)
    for scene, single in [(2, 3), (3, 3), (4, 1)]:  # a scene of a mix is that recipe's scene, same random state
        mixed = scene_series(np.random.default_rng(9), scene, (96, 96), [0, 6], (1, 3))
        alone = scene_series(np.random.default_rng(9), scene, (96, 96), [0, 6], single)
        for a, b in zip(mixed, alone):
            np.testing.assert_array_equal(a.image, b.image)
            np.testing.assert_array_equal(a.labels, b.labels)


def test_exposure_share_over_exposes_whole_series_and_leaves_the_default_data_alone():
    from napari_cytoqa.detection.unet_task import build_detection_dataset, scene_series

    for scene in (0, 1):  # a smear, a fluorescence field
        plain = scene_series(np.random.default_rng(5), scene, (96, 96), [0, 7], 1)
        shared0 = scene_series(np.random.default_rng(5), scene, (96, 96), [0, 7], 1, 0.0)
        exposed = scene_series(np.random.default_rng(5), scene, (96, 96), [0, 7], 1, 1.0)
        for a, b, c in zip(plain, shared0, exposed):
            np.testing.assert_array_equal(a.image, b.image)
            np.testing.assert_array_equal(a.labels, c.labels)
            assert c.image.dtype == a.image.dtype and not np.array_equal(a.image, c.image)
        top = exposed[0].meta["full_scale"]
        assert {s.meta["exposure_clip"] for s in exposed} == {exposed[0].meta["exposure_clip"]}  # one setting
        saturated = [float((np.asarray(s.image) >= top).mean()) for s in exposed]
        if plain[0].kind == "brightfield":  # the light background whites out
            assert saturated[0] > 0.3 and saturated[0] > float((np.asarray(plain[0].image) >= top).mean()) + 0.2
        else:  # the brightest nuclei's tops flatten, the dark background stays dark
            fg = plain[0].labels > 0
            assert (np.asarray(exposed[0].image)[fg] >= top).mean() >= 0.09
            assert (np.asarray(exposed[0].image)[~fg] >= top).mean() < 0.01
    x0, *_ = build_detection_dataset(4, [0], size=64, crop=32, seed=3)
    x1, *_ = build_detection_dataset(4, [0], size=64, crop=32, seed=3, exposure_share=0.0)
    np.testing.assert_array_equal(x0, x1)


def test_exposure_kinds_leave_the_other_kind_and_every_other_scene_as_with_both():
    from napari_cytoqa.detection.unet_task import build_detection_dataset

    both, *_ = build_detection_dataset(6, [0], size=64, crop=32, crops_per_image=1, seed=2, exposure_share=1.0)
    bright, *_ = build_detection_dataset(6, [0], size=64, crop=32, crops_per_image=1, seed=2, exposure_share=1.0,
                                         exposure_kinds=("brightfield",))
    plain, *_ = build_detection_dataset(6, [0], size=64, crop=32, crops_per_image=1, seed=2)
    np.testing.assert_array_equal(bright[0::2], both[0::2])  # smears: exposed as with both kinds
    assert not np.array_equal(bright[0::2], plain[0::2])
    assert not np.array_equal(bright[1::2], both[1::2])  # fluorescence fields: not exposed
    with pytest.raises(ValueError, match="exposure_kinds"):
        build_detection_dataset(2, [0], size=64, crop=32, exposure_share=1.0, exposure_kinds=("phase",))


def test_tiny_unet_trains_end_to_end_and_detects(tmp_path, monkeypatch):
    from napari_cytoqa.detection.unet import UNet
    from napari_cytoqa.detection.unet_task import build_detection_dataset, evaluate, joint_augment, make_loss
    from napari_cytoqa.models import ModelSpec, clear_cache, save_model
    from napari_cytoqa.synthetic import make_fluorescence
    from napari_cytoqa.training import FitConfig, fit

    monkeypatch.setenv("CYTOQA_MODELS_DIR", str(tmp_path))
    x, y, lv, groups = build_detection_dataset(2, [0, 8], size=64, crop=32, seed=1)
    assert x.shape == (8, 3, 32, 32) and y.shape == (8, 2, 32, 32) and set(lv) == {0.0, 8.0}
    net = UNet(widths=(4, 8, 8, 8, 8))
    res = fit(net, (x[:6], y[:6]), (x[6:], y[6:]), make_loss(), FitConfig(epochs=2, batch_size=4, device="cpu"),
              evaluate=evaluate, joint_augment=joint_augment)
    assert len(res.history) == 2 and np.isfinite(res.history[-1]["val_loss"])
    assert {"pixel_f1", "centre_mae"} <= set(res.history[-1])
    save_model(net, ModelSpec(name="tiny-unet", task="detection", architecture="unet", weights="tiny-unet.safetensors",
                              sha256="", config={"widths": [4, 8, 8, 8, 8]}), tmp_path)
    clear_cache()
    img = make_fluorescence((90, 110), seed=3).image  # 16-bit, not a multiple of 16
    det = detect_cells(img, detector="unet", model="tiny-unet", tile_size=64, overlap=16, threshold=0.3)
    assert det.labels.shape == img.shape and det.labels.dtype == np.int32
    assert len(det.scores) == det.count == det.labels.max() and set(det.route) <= {"tiny-unet"}
    with pytest.raises(ValueError, match="not a U-Net"):
        detect_cells(img, detector="unet", model="cytoqa-quality")


def test_blur_routing_sends_each_tile_to_the_matching_model(tmp_path, monkeypatch):
    from napari_cytoqa.detection.unet import UNet
    from napari_cytoqa.models import ModelSpec, clear_cache, save_model
    from napari_cytoqa.synthetic import smear_series

    monkeypatch.setenv("CYTOQA_MODELS_DIR", str(tmp_path))  # user models shadow the bundled ones
    for variant in ("sharp", "blurry"):
        name = f"cytoqa-unet-{variant}"
        save_model(UNet(widths=(4, 8)), ModelSpec(name=name, task="detection", architecture="unet",
                                                  weights=f"{name}.safetensors", sha256="",
                                                  config={"widths": [4, 8]}), tmp_path)
    clear_cache()
    sharp, blurry = smear_series((256, 256), [0, 9], seed=4)
    img = np.concatenate([sharp.image, blurry.image], axis=1)  # left in focus, right 18 µm defocused
    det = detect_cells(img, detector="unet", routing="blur", tile_size=256, overlap=0)
    assert det.tile_routes.tolist() == ["cytoqa-unet-sharp", "cytoqa-unet-blurry"]
    assert det.tile_focus[0] < 5.5 < det.tile_focus[1]
    left = (det.boxes[:, 1] + det.boxes[:, 3]) / 2 < 256
    assert set(det.route[left]) <= {"cytoqa-unet-sharp"} and set(det.route[~left]) <= {"cytoqa-unet-blurry"}
    with pytest.raises(ValueError, match="routing must be"):
        detect_cells(img, detector="unet", routing="fast")


def test_boxes_only_mode_and_pyramid_statistics(monkeypatch):
    from napari_cytoqa.io.writer import build_pyramid
    from napari_cytoqa.synthetic import make_fluorescence

    img = make_fluorescence((600, 500), seed=6).image
    full = detect_cells(img, detector="unet", tile_size=256, overlap=48)
    lean = detect_cells(img, detector="unet", tile_size=256, overlap=48, keep_labels=False)
    assert lean.labels is None and abs(lean.count - full.count) <= 0.03 * full.count
    # "auto" (the default) keeps labels up to MAX_LABEL_PIXELS, boxes only beyond (a whole slide)
    import napari_cytoqa.detection.detect as detect_module

    monkeypatch.setattr(detect_module, "MAX_LABEL_PIXELS", img.shape[0] * img.shape[1] - 1)
    auto = detect_cells(img, detector="unet", tile_size=256, overlap=48)
    assert auto.labels is None and auto.count == lean.count
    assert detect_cells(img, detector="unet", tile_size=256, overlap=48, keep_labels=True).labels is not None
    with pytest.raises(ValueError, match="keep_labels"):
        detect_cells(img, detector="unet", keep_labels="yes")
    assert evaluate_detections([(lean.boxes, lean.scores)], [full.boxes]).f1 > 0.95
    # without a label image each cell keeps its outline and size, from the tile that owns it: those of the
    # label image where both runs found the same box
    from napari_cytoqa.detection.outlines import label_outlines

    rings, where = label_outlines(full.labels), {tuple(b): i for i, b in enumerate(full.boxes.astype(int))}
    pairs = [(j, where[tuple(b)]) for j, b in enumerate(lean.boxes.astype(int)) if tuple(b) in where]
    assert len(pairs) > 0.95 * lean.count and len(lean.outlines) == len(lean.instance_areas) == lean.count
    assert np.mean([np.array_equal(lean.outlines[j], rings[i + 1]) for j, i in pairs]) > 0.95
    assert np.mean([lean.areas[j] == full.areas[i] for j, i in pairs]) > 0.95
    sub = lean.subset(lean.scores >= np.median(lean.scores))  # subsets keep them aligned
    kept = np.flatnonzero(lean.scores >= np.median(lean.scores))
    assert np.array_equal(sub.outlines[1], lean.outlines[kept[1]]) and np.array_equal(sub.areas, lean.areas[kept])
    geo = lean.to_geojson(outlines=True)["features"][kept[1]]  # GeoJSON: outline, x first, closed
    assert np.array_equal(np.array(geo["geometry"]["coordinates"][0])[:-1, ::-1], lean.outlines[kept[1]])
    # on a pyramid the statistics come from a coarser level: same cells found on level 0
    pyr = build_pyramid(np.tile(img, (2, 2)), min_size=256)
    assert len(pyr) >= 2
    det = detect_cells(pyr, detector="otsu", tile_size=512)
    ref = detect_cells(pyr[0], detector="otsu", tile_size=512)
    assert evaluate_detections([(det.boxes, det.scores)], [ref.boxes]).f1 > 0.95


def test_diameter_brings_large_cells_to_the_trained_size():
    from napari_cytoqa.synthetic import make_fluorescence

    s = make_fluorescence((200, 200), seed=31)
    big = np.kron(s.image, np.ones((2, 2), s.image.dtype))  # nuclei twice the trained size
    gt = s.boxes * 2
    plain = detect_cells(big, detector="unet", tile_size=256, overlap=64)
    sized = detect_cells(big, detector="unet", tile_size=256, overlap=64, diameter=32)
    assert sized.labels.shape == big.shape and sized.labels.max() == sized.count
    ap_plain = evaluate_detections([(plain.boxes, plain.scores)], [gt]).ap50
    ap_sized = evaluate_detections([(sized.boxes, sized.scores)], [gt]).ap50
    assert ap_sized > 0.8 > ap_plain + 0.3  # too-large nuclei are split; resampled they are found whole
    up = detect_cells(s.image, detector="unet", tile_size=128, overlap=32, diameter=6)  # upsampled 2.7x
    assert up.labels.shape == s.image.shape and up.labels.max() == up.count == len(up.scores)
    assert (up.boxes[:, 2] > up.boxes[:, 0]).all()
    with pytest.raises(ValueError, match="diameter"):
        detect_cells(big, detector="unet", diameter=0)


@pytest.mark.parametrize("kind, scale, level, seed", [("fluorescence", 2.0, 0, 41), ("smear", 1.6, 8, 42)])
def test_auto_diameter_measures_the_cell_size(kind, scale, level, seed):
    from napari_cytoqa.detection.size import equivalent_diameters, estimate_diameter
    from napari_cytoqa.synthetic import make_fluorescence, make_smear

    make = make_fluorescence if kind == "fluorescence" else make_smear
    s = make((512, 512), blur_level=level, scale=scale, seed=seed)  # 100+ cells: fewer make a noisy median
    truth = np.median(equivalent_diameters(s.labels))
    est = estimate_diameter(s.image)
    assert abs(np.log(est / truth)) < np.log(1.15), (est, truth)
    det = detect_cells(s.image, detector="unet", tile_size=256, diameter="auto")
    assert det.diameter == pytest.approx(est)
    plain = detect_cells(s.image, detector="unet", tile_size=256)
    assert plain.diameter is None
    ap = [evaluate_detections([(d.boxes, d.scores)], [s.boxes]).ap50 for d in (det, plain)]
    assert ap[0] > 0.7 and ap[0] > ap[1], ap


def test_diameter_from_curve_by_hand():
    from napari_cytoqa.detection.size import diameter_from_curve

    # r(D) crosses D between 32 (ratio 0.75) and 16 (ratio 1.25): log-interpolated where the ratio is 1
    crossing = [(64.0, 24.0), (32.0, 24.0), (16.0, 20.0)]
    frac = np.log(1.25) / (np.log(1.25) - np.log(0.75))
    assert diameter_from_curve(crossing) == pytest.approx(16 * 2 ** frac)
    assert diameter_from_curve([(64.0, None), (32.0, 40.0)]) == 40.0  # cells larger than every size tried
    # never crossing: a whole-cell ratio at 45 px, fragments closer to 1 further down
    fragments = [(64.0, 40.0), (45.0, 41.0), (32.0, 30.6), (16.0, 15.6), (8.0, None)]
    assert diameter_from_curve(fragments) == 41.0  # the default, "first" (rule F)
    assert diameter_from_curve(fragments, "first") == 41.0
    assert diameter_from_curve(fragments, "closest") == 15.6  # the ratio nearest 1 (0.975)
    assert diameter_from_curve([(64.0, 30.0), (32.0, 20.0)]) is None  # no ratio reaches NEAR
    assert diameter_from_curve([(64.0, None)]) is None
    with pytest.raises(ValueError, match="fallback"):
        diameter_from_curve(fragments, "best")


def test_reported_size_leaves_out_instances_under_the_floor():
    from napari_cytoqa.detection.size import MIN_FRACTION, _reported
    from napari_cytoqa.synthetic import make_fluorescence

    s = make_fluorescence((256, 256), seed=44)
    everything = _reported(s.image, 16.0, "cytoqa-unet-combined", "cpu", min_fraction=0.0)
    assert everything is not None and MIN_FRACTION == 0.4
    floored = _reported(s.image, 16.0, "cytoqa-unet-combined", "cpu")  # the default floor
    assert floored is not None and floored >= everything  # the small ones gone, the median can only rise
    assert _reported(s.image, 16.0, "cytoqa-unet-combined", "cpu", min_fraction=10.0) is None  # none left


def test_auto_diameter_errors():
    from napari_cytoqa.detection.size import estimate_diameter

    blank = np.full((256, 256), 100, np.uint16)
    with pytest.raises(ValueError, match="cannot estimate the cell diameter"):
        estimate_diameter(blank)
    for bad in ("big", "AUTO", float("nan"), 1.0):
        with pytest.raises(ValueError, match="diameter"):
            detect_cells(blank, detector="unet", diameter=bad)


def test_size_model_picks_the_u_net_that_measures(monkeypatch):
    from napari_cytoqa.detection import size
    from napari_cytoqa.synthetic import make_fluorescence

    s = make_fluorescence((256, 256), scale=1.5, seed=43)
    det = detect_cells(s.image, detector="otsu", diameter="auto", size_model="cytoqa-unet-combined-r4")
    assert det.diameter == pytest.approx(size.estimate_diameter(s.image, model="cytoqa-unet-combined-r4"))
    used, reported = [], size._reported
    monkeypatch.setattr(size, "_reported", lambda region, d, model, *a, **k: used.append(model) or
                        reported(region, d, model, *a, **k))
    detect_cells(s.image, detector="otsu", diameter="auto", size_model="cytoqa-unet-combined-r4")
    assert used and set(used) == {"cytoqa-unet-combined-r4"}  # every pass of the estimate ran the named U-Net
    used.clear()
    detect_cells(s.image, detector="otsu", diameter="auto")
    assert used and set(used) == {"cytoqa-unet-combined"}  # the default measures otherwise
    with pytest.raises(ValueError, match="not a U-Net"):
        detect_cells(s.image, detector="otsu", diameter="auto", size_model="cytoqa-yolo-combined")
    with pytest.raises(KeyError, match="no model named"):
        detect_cells(s.image, detector="otsu", diameter="auto", size_model="no-such-model")


def test_nms_matches_a_reference_greedy_loop():
    rng = np.random.default_rng(0)
    yx = rng.uniform(0, 200, (400, 2))
    boxes = np.concatenate([yx, yx + rng.uniform(5, 30, (400, 2))], 1)
    scores = rng.permutation(400) / 400.0  # distinct scores: one greedy order
    order, ref = list(np.argsort(-scores)), []
    while order:
        i = order.pop(0)
        ref.append(i)
        order = [j for j in order if box_iou(boxes[[i]], boxes[[j]])[0, 0] <= 0.5]
    assert nms(boxes, scores, 0.5).tolist() == sorted(ref)
    assert nms(np.zeros((0, 4)), [], 0.5).tolist() == []


def test_bf16_detectors_are_opt_in_agree_with_float32_and_keep_the_yolo_head_in_float32():
    import torch

    from napari_cytoqa.models import get_model
    from napari_cytoqa.models.precision import bf16_module
    from napari_cytoqa.synthetic import make_fluorescence

    s = make_fluorescence((320, 320), seed=45)
    for detector in ("unet", "yolo"):
        d32 = detect_cells(s.image, detector=detector, precision="fp32")
        d16 = detect_cells(s.image, detector=detector, precision="bf16")
        agree = evaluate_detections([(d16.boxes, d16.scores)], [d32.boxes])
        assert d32.count > 20 and agree.f1 > 0.97, detector
        assert not np.array_equal(d16.scores, d32.scores)  # it really ran in bfloat16
        np.testing.assert_array_equal(detect_cells(s.image, detector=detector).scores, d32.scores)  # default
    net = bf16_module(get_model("cytoqa-yolo-combined", device="cpu"))
    head = net.model[-1]
    assert {p.dtype for p in head.parameters()} == {torch.float32}  # boxes decoded in float32
    assert {p.dtype for m in list(net.model)[:-1] for p in m.parameters()} == {torch.bfloat16}
    with pytest.raises(ValueError, match="precision"):
        detect_cells(s.image, detector="unet", precision="half")


def test_where_right_keeps_only_images_the_focus_model_routed_right():
    """evaluate_detection.py's routed-vs-combined comparison on correctly routed images only."""
    import importlib.util
    from pathlib import Path
    from types import SimpleNamespace

    path = Path(__file__).resolve().parents[1] / "scripts" / "evaluate_detection.py"
    spec = importlib.util.spec_from_file_location("evaluate_detection_script", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    data = [SimpleNamespace(meta={"blur_level": lv}, boxes=gt) for lv in (2, 8, 7)]
    hit = SimpleNamespace(boxes=gt, scores=np.ones(2))
    half = SimpleNamespace(boxes=gt[:1], scores=np.ones(1))
    # image 0 (level 2) and image 2 (level 7, two tiles) routed right; image 1 (level 8) sent to the sharp model
    routed = [SimpleNamespace(tile_focus=[1.0], **vars(hit)), SimpleNamespace(tile_focus=[4.0], **vars(half)),
              SimpleNamespace(tile_focus=[7.5, 9.0], **vars(half))]
    out = script.where_right(data, routed, [hit, hit, hit])
    assert (out["images"], out["of"]) == (2, 3)
    assert out["right_per_level"][8] == 0 and out["right_per_level"][2] == 1 and out["right_per_level"][7] == 1
    assert set(out["count_mape_per_level"]) == {2, 7}
    assert out["count_mape_per_level"][2] == [0.0, 0.0] and out["count_mape_per_level"][7] == [0.5, 0.0]
    assert out["routed"]["recall"] == pytest.approx(0.75) and out["combined"]["recall"] == 1.0
    partly = [SimpleNamespace(tile_focus=[1.0], **vars(hit))] * 2 + [SimpleNamespace(tile_focus=[3.0, 9.0],
                                                                                     **vars(hit))]
    assert script.where_right(data, partly, [hit] * 3)["images"] == 1  # one wrong tile: the image is out


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_8_bit_data_in_wide_integer_arrays_detect_like_8_bit(dtype):
    """numpy's default int64 (or int32) holding 8-bit values: the brightfield polarity and the
    detections are those of the uint8 image (a full scale of 2**63 - 1 used to flip the polarity)."""
    from napari_cytoqa.synthetic import make_smear

    gray = make_smear((256, 256), seed=1).image[..., 1]
    ref = detect_cells(gray, detector="unet")
    det = detect_cells(gray.astype(dtype), detector="unet")
    assert ref.count > 20 and det.count == ref.count
    np.testing.assert_array_equal(det.boxes, ref.boxes)


def test_transparent_pixels_hold_no_cells():
    from napari_cytoqa.synthetic import make_smear

    img = make_smear((384, 384), seed=1).image
    yy, xx = np.mgrid[:384, :384]
    inside = (yy - 192) ** 2 + (xx - 192) ** 2 < 170 ** 2
    rgba = np.dstack([np.where(inside[..., None], img, 0), np.where(inside, 255, 0)]).astype(np.uint8)
    det = detect_cells(rgba, detector="unet")
    radius = np.hypot((det.boxes[:, 0] + det.boxes[:, 2]) / 2 - 192, (det.boxes[:, 1] + det.boxes[:, 3]) / 2 - 192)
    # cells cut by the edge have box centres just outside it; none lie further out
    assert det.count > 50 and (radius > 170 + 12).sum() <= 0.02 * det.count


def test_recipe_4_textures_nuclei_without_changing_their_masks():
    from napari_cytoqa.synthetic import fluorescence_series
    from napari_cytoqa.detection.unet_task import scene_series
    from napari_cytoqa.synthetic.chromatin import FLOOR, chromatin_pattern
    from napari_cytoqa.synthetic.shapes import blob

    textured = fluorescence_series((96, 96), [0], chromatin=1.0, irregular=0.5, seed=3)[0]
    again = fluorescence_series((96, 96), [0], chromatin=1.0, irregular=0.5, seed=3)[0]
    assert np.array_equal(textured.image, again.image) and textured.labels.max() > 0
    assert np.array_equal(textured.boxes, boxes_from_labels(textured.labels))

    def pattern_stats(strength):  # spread inside the nucleus and its darkest point, over 20 nuclei
        out = []
        for seed in range(20):
            mask = blob(12.0, np.random.default_rng(seed))
            pattern = chromatin_pattern(mask, 12.0, np.random.default_rng(seed), strength=strength)
            assert pattern.shape == mask.shape and pattern.min() >= FLOOR
            inner = pattern[mask > 0.5]
            out.append((inner.std() / inner.mean(), inner.min() / np.median(inner)))
        return np.median(out, axis=0)

    (cv_strong, dark_strong), (cv_weak, _) = pattern_stats(1.0), pattern_stats(0.2)
    assert cv_strong > 0.15 and cv_strong > 2 * cv_weak and dark_strong < 0.7  # blotches, nucleoli
    mask = blob(12.0, np.random.default_rng(0))
    assert np.allclose(chromatin_pattern(mask, 12.0, np.random.default_rng(1), strength=0.0), 1.0)
    with pytest.raises(ValueError, match="strength"):
        chromatin_pattern(mask, 12.0, np.random.default_rng(1), strength=2.0)
    with pytest.raises(ValueError, match="chromatin"):
        fluorescence_series((32, 32), [0], chromatin=1.5)
    series = scene_series(np.random.default_rng(0), 1, (64, 64), [0, 8], recipe=4)
    assert len(series) == 2 and series[0].kind == "fluorescence"


def test_mirror_averaging_is_the_mean_of_the_mirrored_back_views():
    import torch

    from napari_cytoqa.detection.unet import UNet
    from napari_cytoqa.detection.unet_task import predict_maps

    torch.manual_seed(0)
    net = UNet(widths=(4, 8)).eval()
    x = np.random.default_rng(0).random((3, 21, 30)).astype(np.float32)  # padded to 32 x 32
    plain = predict_maps(net, x, "cpu")
    views = []
    for axes in [(), (2,), (1,), (1, 2)]:
        fg, centre = predict_maps(net, np.ascontiguousarray(np.flip(x, axes) if axes else x), "cpu")
        views.append([np.flip(m, tuple(a - 1 for a in axes)) if axes else m for m in (fg, centre)])
    tta = predict_maps(net, x, "cpu", flips=True)
    assert tta[0].shape == plain[0].shape == (21, 30)
    np.testing.assert_allclose(tta[0], np.mean([v[0] for v in views], 0), atol=1e-5)
    np.testing.assert_allclose(tta[1], np.mean([v[1] for v in views], 0), atol=1e-5)
    assert not np.allclose(tta[0], plain[0], atol=1e-4)  # the mirrored views do change the maps
    sym = np.ascontiguousarray(x + np.flip(x, 2))  # left-right symmetric input: its mirrored maps agree
    fg = predict_maps(net, sym, "cpu", flips=True)[0]
    np.testing.assert_allclose(fg, fg[:, ::-1], atol=1e-5)


def test_tta_option_runs_the_u_net_on_mirror_images_and_is_refused_by_otsu(monkeypatch):
    import napari_cytoqa.detection.unet_task as unet_task
    from napari_cytoqa.synthetic import make_fluorescence

    seen = []
    real = unet_task.predict_maps
    monkeypatch.setattr(unet_task, "predict_maps", lambda net, x, device, flips=False: (
        seen.append(flips), real(net, x, device, flips))[1])
    img = make_fluorescence((160, 160), seed=8).image
    on = detect_cells(img, detector="unet", routing="combined", tta=True)
    assert seen and all(seen)
    seen.clear()
    off = detect_cells(img, detector="unet", routing="combined", tta=False)
    assert seen and not any(seen) and on.count > 5 and abs(on.count - off.count) <= max(2, 0.1 * off.count)
    yolo = [detect_cells(img, detector="yolo", routing="combined", tta=t) for t in (False, True)]
    assert yolo[0].count > 5 and abs(yolo[1].count - yolo[0].count) <= max(2, 0.1 * yolo[0].count)
    with pytest.raises(ValueError, match="tta"):
        detect_cells(img, detector="unet", tta="yes")
    with pytest.raises(ValueError, match="tta"):
        detect_cells(img, detector="otsu", tta=True)


def test_weighted_box_fusion_hand_computed():
    from napari_cytoqa.detection.fusion import weighted_box_fusion

    boxes = [[0, 0, 10, 10], [0, 2, 10, 12], [0, 1, 10, 11], [50, 50, 60, 60], [0, 0, 10, 10]]
    scores = [0.8, 0.4, 0.6, 0.9, 0.2]
    views = [0, 1, 2, 0, 0]  # the last box is view 0's second one over the first cell: a cluster of its own
    fused, fscores = weighted_box_fusion(boxes, scores, views, n_views=4, iou=0.5)
    # cell 1: views 0, 1, 2 -> x0 = (0*.8 + 2*.4 + 1*.6) / 1.8, score (.8+.4+.6)/4
    x0 = (0 * 0.8 + 2 * 0.4 + 1 * 0.6) / 1.8
    np.testing.assert_allclose(fused, [[0, x0, 10, x0 + 10], [50, 50, 60, 60], [0, 0, 10, 10]])
    np.testing.assert_allclose(fscores, [0.45, 0.225, 0.05])
    # only the first cell was found by at least two views
    voted = weighted_box_fusion(boxes, scores, views, n_views=4, iou=0.5, min_views=2)
    np.testing.assert_allclose(voted[0], [[0, x0, 10, x0 + 10]])
    np.testing.assert_allclose(voted[1], [0.45])
    empty = weighted_box_fusion(np.zeros((0, 4)), [], [], n_views=4)
    assert empty[0].shape == (0, 4) and empty[1].shape == (0,)
    with pytest.raises(ValueError, match="views"):
        weighted_box_fusion(boxes, scores, [0, 1, 2, 4, 0], n_views=4)
    with pytest.raises(ValueError, match="min_views"):
        weighted_box_fusion(boxes, scores, views, n_views=4, min_views=5)


def test_weighted_box_fusion_matches_the_all_pairs_search():
    """The grid that limits which clusters a box is compared with loses no match: the same fused
    boxes and scores as comparing every box with every cluster."""
    from napari_cytoqa.detection.fusion import weighted_box_fusion
    from napari_cytoqa.detection.metrics import box_iou

    def all_pairs(boxes, scores, views, iou, min_views):
        fused, weight, seen = np.zeros((len(boxes), 4)), np.zeros(len(boxes)), np.zeros((len(boxes), 4), bool)
        n = 0
        for i in np.argsort(-scores, kind="stable"):
            overlap = box_iou(boxes[i:i + 1], fused[:n])[0] if n else np.zeros(0)
            overlap[seen[:n, views[i]]] = -1
            j = int(np.argmax(overlap)) if n and overlap.max() >= iou else -1
            if j < 0:
                j, n = n, n + 1
            fused[j] = (fused[j] * weight[j] + boxes[i] * scores[i]) / (weight[j] + scores[i])
            weight[j] += scores[i]
            seen[j, views[i]] = True
        order = np.argsort(-weight[:n], kind="stable")
        order = order[seen[:n][order].sum(1) >= min_views]
        return fused[:n][order], weight[:n][order] / 4

    rng = np.random.default_rng(3)
    for trial in range(40):
        n = int(rng.integers(1, 300))
        centres = rng.uniform(0, 300, (max(n // 4, 1), 2))[rng.integers(0, max(n // 4, 1), n)]
        centres += rng.normal(0, [0.5, 3, 10][trial % 3], (n, 2))
        half = rng.uniform(2, 25, (n, 2))
        boxes = np.concatenate([centres - half, centres + half], 1)
        boxes = np.round(boxes) if trial % 2 else boxes  # ties too
        scores, views = np.round(rng.uniform(0.3, 1, n), 1 + trial % 2), rng.integers(0, 4, n)
        for iou, min_views in ((0.55, 1), (0.5, 2), (0.0, 1)):
            want = all_pairs(boxes, scores, views, iou, min_views)
            got = weighted_box_fusion(boxes, scores, views, 4, iou=iou, min_views=min_views)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])


def test_yolo_mirror_averaging_keeps_boxes_in_image_coordinates():
    from napari_cytoqa.detection.yolo import predict_boxes
    from napari_cytoqa.models import get_model
    from napari_cytoqa.models.precision import module_for
    from napari_cytoqa.detection.unet_task import image_stats
    from napari_cytoqa.detection.yolo import yolo_input
    from napari_cytoqa.synthetic import make_fluorescence

    s = make_fluorescence((200, 232), seed=5)
    loaded = get_model("cytoqa-yolo-combined", device="cpu")
    net, _ = module_for(loaded, "fp32")
    x = yolo_input(s.image, image_stats(s.image)[1])
    plain = predict_boxes(net, x, "cpu", conf=0.3)
    both = predict_boxes(net, x, "cpu", conf=0.3, flips=True)
    # every box of the averaged-score rule (min_views=None) was found by at least two views
    strict = predict_boxes(net, x, "cpu", conf=0.3, flips=True, min_views=None)
    assert len(strict[0]) <= len(both[0]) and (strict[1] >= 0.3).all() and (both[1] >= 0.15).all()
    mirrored = predict_boxes(net, np.ascontiguousarray(x[:, :, ::-1]), "cpu", conf=0.3, flips=True)
    assert len(plain[0]) > 5 and abs(len(both[0]) - len(plain[0])) <= 0.2 * len(plain[0])
    from napari_cytoqa.detection import evaluate_detections

    ap = [evaluate_detections([r], [s.boxes]).ap50 for r in (plain, both)]
    assert ap[1] >= ap[0] - 0.05 and ap[1] > 0.7
    # the four views of the mirrored tile are those of the tile: the same boxes, mirrored
    back = mirrored[0].copy()
    back[:, [1, 3]] = 232 - mirrored[0][:, [3, 1]]
    order_a, order_b = np.lexsort(both[0].T[::-1]), np.lexsort(back.T[::-1])
    np.testing.assert_allclose(back[order_b], both[0][order_a], atol=0.05)


def test_size_estimate_does_not_join_pieces_by_default(monkeypatch):
    """Rule K: the estimate's U-Net runs keep merge=False while detection joins (DEFAULT_MERGE);
    ``merge=`` and ``size.ESTIMATE_MERGE`` override it, "auto" following the latter."""
    from napari_cytoqa.detection import detect, size

    assert size.ESTIMATE_MERGE is False and detect.DEFAULT_MERGE is True
    seen = []

    def fake(region, d, model, device, precision=None, min_fraction=None, stain="none", merge="auto"):
        seen.append(merge)
        return d  # r(D) = D: the first size of the grid decides

    monkeypatch.setattr(size, "_reported", fake)
    image = np.zeros((64, 64), np.uint8)
    size.estimate_diameter(image)
    size.estimate_diameter(image, merge=True)
    monkeypatch.setattr(size, "ESTIMATE_MERGE", "auto")
    size.estimate_diameter(image)
    assert seen == [False, True, "auto"]


def test_above_keeps_confident_objects_and_renumbers_labels():
    """Detections.above: a new result with the objects scoring >= min_score, labels renumbered
    in order (label i + 1 is box i), tile counts recounted; the original is unchanged."""
    from napari_cytoqa.detection import Detections
    from napari_cytoqa.synthetic import make_fluorescence

    labels = np.zeros((20, 40), np.int32)
    labels[2:6, 2:6], labels[2:6, 12:16], labels[10:14, 24:28] = 1, 2, 3
    det = Detections(boxes=boxes_from_labels(labels), scores=np.array([0.9, 0.6, 0.95]), labels=labels,
                     route=np.array(["a", "b", "c"], dtype=object), focus=np.array([1.0, 2.0, 3.0]), detector="unet",
                     tile_boxes=np.array([[0, 0, 20, 20], [0, 20, 20, 40]]), tile_counts=np.array([2, 1]))
    before = labels.copy()
    top = det.above(0.8)
    assert top.count == 2 and list(top.route) == ["a", "c"] and list(top.focus) == [1.0, 3.0]
    assert list(top.tile_counts) == [1, 1] and det.count == 3 and list(det.tile_counts) == [2, 1]
    np.testing.assert_array_equal(top.boxes, boxes_from_labels(top.labels))  # label i + 1 is box i
    assert set(np.unique(top.labels)) == {0, 1, 2} and (top.labels[2:6, 12:16] == 0).all()
    np.testing.assert_array_equal(labels, before)
    top.warnings.append("only on the copy")
    assert det.warnings == []
    assert det.above(0.0).count == 3 and det.above(0.99).count == 0
    assert det.above(0.99).labels.max() == 0 and det.above(0.99).tile_counts.sum() == 0
    with pytest.raises(ValueError, match="min_score"):
        det.above(float("nan"))
    s = make_fluorescence((192, 192), seed=5)
    full = detect_cells(s.image, detector="unet", routing="combined")
    cut = float(np.median(full.scores))
    some = detect_cells(s.image, detector="unet", routing="combined", min_score=cut)
    np.testing.assert_array_equal(some.labels, full.above(cut).labels)
    assert 0 < some.count < full.count and (some.scores >= cut).all()
    for bad in (1.5, -0.1, "high"):
        with pytest.raises(ValueError, match="min_score"):
            detect_cells(s.image, detector="otsu", min_score=bad)


def test_a_u_net_ensemble_averages_its_models_maps_and_yolo_refuses_one(monkeypatch):
    import napari_cytoqa.detection.unet as unet_mod
    import napari_cytoqa.detection.unet_task as unet_task
    from napari_cytoqa.detection.networks import UNetRunner, model_names
    from napari_cytoqa.detection.unet_task import image_stats
    from napari_cytoqa.synthetic import make_fluorescence

    img = make_fluorescence((96, 96), seed=3).image
    stats = image_stats(img)[1]
    runners = {n: UNetRunner(n, "cpu", None) for n in ("cytoqa-unet-sharp", "cytoqa-unet-combined")}
    both = UNetRunner("cytoqa-unet-sharp + cytoqa-unet-combined", "cpu", None)
    assert both.name == "cytoqa-unet-sharp+cytoqa-unet-combined" and len(both.nets) == 2
    x = unet_task.unet_input(img, stats)
    maps = [unet_task.predict_maps(r.net, x, "cpu") for r in runners.values()]
    assert not np.allclose(maps[0][0], maps[1][0], atol=1e-3)  # two different models
    seen = {}
    real = unet_mod.instances_from_maps
    monkeypatch.setattr(unet_mod, "instances_from_maps", lambda fg, c, **kw: (seen.update(fg=fg, c=c),
                                                                              real(fg, c, **kw))[1])
    labels, boxes, scores = both(img, stats)
    np.testing.assert_allclose(seen["fg"], (maps[0][0] + maps[1][0]) / 2, atol=1e-6)
    np.testing.assert_allclose(seen["c"], (maps[0][1] + maps[1][1]) / 2, atol=1e-6)
    assert labels.max() == len(boxes) == len(scores) > 3
    det = detect_cells(img, detector="unet", routing="blur", sharp_model="cytoqa-unet-sharp+cytoqa-unet-combined")
    assert det.count > 3 and set(det.route) <= {"cytoqa-unet-sharp+cytoqa-unet-combined", "cytoqa-unet-blurry"}
    assert model_names("a+b") == ["a", "b"]
    with pytest.raises(ValueError, match="empty model name"):
        model_names("cytoqa-unet-sharp+")
    with pytest.raises(ValueError, match="only U-Nets"):
        detect_cells(img, detector="yolo", routing="blur", sharp_model="cytoqa-yolo-sharp+cytoqa-yolo-combined")
    with pytest.raises(ValueError, match="not a U-Net"):
        detect_cells(img, detector="unet", routing="blur", sharp_model="cytoqa-unet-sharp+cytoqa-yolo-sharp")


def test_auto_overlap_keeps_cells_larger_than_the_fixed_overlap_whole():
    from napari_cytoqa.detection.merge import tiling_for

    yy, xx = np.mgrid[:1024, :1024]
    img = np.zeros((1024, 1024), np.uint8)
    centres = [(y, x) for y in range(70, 1000, 150) for x in range(70, 1000, 150)]
    for i, (cy, cx) in enumerate(centres):
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= 45 ** 2] = 150 + i  # 90-px cells, larger than a 64-px overlap
    fixed = detect_cells(img, detector="otsu", diameter=90, tile_size=256, overlap=64)
    auto = detect_cells(img, detector="otsu", diameter=90, tile_size=256)  # overlap="auto": 135 px
    side = lambda d: np.minimum(d.boxes[:, 2] - d.boxes[:, 0], d.boxes[:, 3] - d.boxes[:, 1])  # noqa: E731
    assert fixed.count > len(centres) and side(fixed).min() < 45  # cut cells, counted twice
    assert auto.count == len(centres) and side(auto).min() >= 84  # every cell once and whole
    assert tiling_for(90, 512) == (512, 135) and tiling_for(90, 256) == (405, 135)
    assert tiling_for(28, 512) == tiling_for(None, 512) == (512, 64)  # cells up to 42 px: as before
    assert tiling_for(90, 512, 10) == tiling_for(90, 512, 10.0) == (512, 10)  # an overlap in pixels: as given
    for bad in (True, float("nan"), -1):
        with pytest.raises(ValueError, match="overlap"):
            tiling_for(90, 512, bad)
    with pytest.raises(ValueError, match="overlap"):
        detect_cells(img, detector="otsu", overlap="big")
    with pytest.raises(ValueError, match="overlap"):
        detect_cells(img, detector="otsu", overlap=-1)


def test_diameter_in_microns_uses_the_pixel_size(pyramid_file):
    from napari_cytoqa.detection.size import resolve_diameter
    from napari_cytoqa.io import read_slide
    from napari_cytoqa.quality.assess import pick_level

    path, image = pyramid_file  # 0.25 µm per level-0 pixel, 3 levels
    with read_slide(path) as slide:
        levels, _ = pick_level(slide, 0)
        assert resolve_diameter(slide, levels, 0, diameter_um=8) == pytest.approx(32)  # 8 / 0.25
        assert resolve_diameter(slide, levels, 1, diameter_um=8) == pytest.approx(16)  # level 1: 0.5 µm/px
        assert resolve_diameter(slide, levels, 1, diameter_um=8, pixel_size=0.5) == pytest.approx(8)
        det = detect_cells(slide, detector="otsu", level=1, diameter_um=8)
        assert det.diameter == pytest.approx(16)
    arr = [np.zeros((64, 64)), np.zeros((32, 32))]
    assert resolve_diameter(arr, arr, 1, diameter_um=6, pixel_size=(0.5, 0.5)) == pytest.approx(6)
    assert resolve_diameter(arr, arr, 0, diameter=12) == 12 and resolve_diameter(arr, arr, 0) is None
    assert resolve_diameter(arr, arr, 0, diameter="auto") == "auto"
    with pytest.raises(ValueError, match="records none"):  # a plain array has no pixel size
        resolve_diameter(arr, arr, 0, diameter_um=8)
    with pytest.raises(ValueError, match="once"):
        resolve_diameter(arr, arr, 0, diameter=16, diameter_um=8, pixel_size=0.5)
    for bad in (0, -3, float("nan"), "8", True):
        with pytest.raises(ValueError, match="diameter_um must be"):
            resolve_diameter(arr, arr, 0, diameter_um=bad, pixel_size=0.5)
    with pytest.raises(ValueError, match="2-1000 px"):
        resolve_diameter(arr, arr, 0, diameter_um=8, pixel_size=10.0)  # 0.8 px
    s = image[:256, :256]
    by_um = detect_cells(s, detector="otsu", diameter_um=12, pixel_size=0.5)
    by_px = detect_cells(s, detector="otsu", diameter=24)
    assert by_um.diameter == pytest.approx(24) and np.array_equal(by_um.boxes, by_px.boxes)


def test_no_diameter_far_from_the_trained_pixel_size_gives_a_hint(pyramid_file):
    """With no cell size given, a slide sampled far from the training's 0.5 µm/px says what to pass (the
    default itself is unchanged); at 0.5 µm/px, with a diameter, or without a pixel size: no hint."""
    from napari_cytoqa.detection.size import scale_hint
    from napari_cytoqa.io import read_slide

    path, image = pyramid_file  # 0.25 µm per level-0 pixel, 3 levels
    with read_slide(path) as slide:
        hint = detect_cells(slide, detector="otsu", level=0).warnings
        assert len(hint) == 1 and "0.25 µm/px" in hint[0] and "4.0 µm" in hint[0] and "32 px here" in hint[0]
        assert "--diameter 8um" in hint[0]
        assert detect_cells(slide, detector="otsu", level=1).warnings == []  # level 1: 0.5 µm/px
        assert "1 µm/px" in detect_cells(slide, detector="otsu", level=2).warnings[0]
        assert detect_cells(slide, detector="otsu", level=0, diameter_um=8).warnings == []
        assert detect_cells(slide, detector="otsu", level=0, diameter=20).warnings == []
        assert detect_cells(slide, detector="otsu", level=0, pixel_size=0.5).warnings == []  # the user's size
        levels = slide.levels
        assert scale_hint(slide, levels, 0, None) is None  # pixel_size=None: unknown
    arr = [image]
    assert scale_hint(arr, arr, 0) is None  # a plain array records no pixel size
    assert scale_hint(arr, arr, 0, 0.7) is None and scale_hint(arr, arr, 0, 0.34) is None  # within 1.5x
    assert "0.76 µm/px" in scale_hint(arr, arr, 0, 0.76) and "0.33 µm/px" in scale_hint(arr, arr, 0, (0.33, 0.33))


def test_cells_grown_from_outlines_match_those_grown_from_labels():
    """QuPath cells of a whole slide (no label image kept) are grown from the nuclei's outlines
    (ring_cells): the same as from the label image (cell_outlines) but where an instance was in pieces."""
    from napari_cytoqa.detection.outlines import Rings, cell_outlines, label_outlines, ring_cells
    from napari_cytoqa.detection.result import _ring_area
    from napari_cytoqa.synthetic import make_fluorescence

    labels = make_fluorescence((384, 384), seed=3).labels
    n = int(labels.max())
    outlines = label_outlines(labels)
    rings = Rings.from_list([outlines.get(i + 1) for i in range(n)])
    assert len(rings) == n and np.array_equal(rings[4], outlines[5]) and rings.as_dict(2.0)[5].tolist() == \
        (outlines[5] * 2).tolist()
    want, got = cell_outlines(labels, 5.0), ring_cells(rings, 5.0, bounds=(0, 0, *labels.shape))
    assert got.keys() == want.keys()
    same = [np.array_equal(want[k], got[k]) for k in want]
    assert np.mean(same) > 0.85
    error = [abs(_ring_area(got[k]) / _ring_area(want[k]) - 1) for k in want]
    assert np.median(error) == 0 and np.mean(error) < 0.02
    assert min(r[:, 0].min() for r in got.values()) >= 0  # bounded by the area analysed
    assert max(r[:, 1].max() for r in got.values()) <= labels.shape[1]
    empty = Rings.from_list([])
    assert len(empty) == 0 and ring_cells(empty, 3.0) == {}


def test_region_detects_in_a_box_or_polygons_only():
    from napari_cytoqa.detection import boxes_from_labels
    from napari_cytoqa.detection.region import resolve_region
    from napari_cytoqa.synthetic import make_fluorescence

    s = make_fluorescence((320, 400), seed=3)
    full = detect_cells(s.image, detector="unet", tile_size=256, tta=False)
    same = detect_cells(s.image, detector="unet", tile_size=256, tta=False, region=(0, 0, 320, 400))
    assert np.array_equal(full.boxes, same.boxes) and same.origin == (0, 0)
    box = (60, 90, 250, 330)
    reg = detect_cells(s.image, detector="unet", tile_size=256, tta=False, region=box)
    assert reg.origin == (60, 90) and reg.labels.shape == (190, 240)
    assert full.area == 320 * 400 and reg.area == 190 * 240 == reg.above(0.9).area  # pixels searched
    assert np.array_equal(boxes_from_labels(reg.labels) + [60, 90, 60, 90], reg.boxes)  # boxes in image pixels
    assert (reg.boxes[:, :2] >= box[:2]).all() and (reg.boxes[:, 2:] <= box[2:]).all()
    assert (reg.tile_boxes[:, :2] >= box[:2]).all() and reg.tile_counts.sum() == reg.count
    # objects well inside the box are the whole-image run's (same image-wide statistics)
    deep = (reg.boxes[:, 0] > 80) & (reg.boxes[:, 1] > 110) & (reg.boxes[:, 2] < 230) & (reg.boxes[:, 3] < 310)
    assert deep.sum() >= 10
    assert evaluate_detections([(reg.boxes[deep], reg.scores[deep])], [full.boxes]).precision == 1.0
    triangle = np.array([[60, 90], [60, 330], [250, 330]], float)
    tri = detect_cells(s.image, detector="unet", tile_size=256, tta=False, region=[triangle])
    assert 0 < tri.count < reg.count and tri.labels.max() == tri.count and tri.origin == (60, 90)
    assert tri.area == pytest.approx(190 * 240 / 2, rel=0.02)  # the triangle, not its box
    cy, cx = (tri.boxes[:, 0] + tri.boxes[:, 2]) / 2, (tri.boxes[:, 1] + tri.boxes[:, 3]) / 2
    assert ((cy - 60) / 190 <= (cx - 90) / 240 + 1e-9).all()  # above the triangle's diagonal
    assert np.array_equal(detect_cells(s.image, detector="unet", tile_size=256, tta=False, region=triangle).boxes,
                          tri.boxes)  # one polygon may come without the list
    assert resolve_region((-5.5, 10.2, 400, 999), (320, 400)) == ((0, 10, 320, 400), None)  # clipped, whole pixels
    for bad, match in [((10, 10, 20), "must be a box"), ((50, 50, 40, 90), "y1 > y0"),
                       ([[[0, 0], [5, 5]]], "at least 3"),
                       ((0, 0, 10, 300), "under 16"), ((400, 0, 500, 50), "y1 > y0|under 16"),
                       ("whole", "must be a box"), ((0, 0, np.nan, 50), "finite")]:
        with pytest.raises(ValueError, match=match):
            detect_cells(s.image, detector="otsu", region=bad)
    with pytest.raises(ValueError, match="one flag per object"):
        reg.subset(np.ones(reg.count + 1, bool))
    # without a label image, a region's cells keep their outlines in the image's pixels, as the labels give them
    from napari_cytoqa.detection.outlines import label_outlines

    kept = detect_cells(s.image, detector="otsu", tile_size=128, region=box, keep_labels=True)
    lean = detect_cells(s.image, detector="otsu", tile_size=128, region=box, keep_labels=False)
    rings = label_outlines(kept.labels, origin=kept.origin)
    assert lean.count == kept.count and all(np.array_equal(lean.outlines[i], rings[i + 1]) for i in range(lean.count))
    shaped = detect_cells(s.image, detector="otsu", tile_size=128, region=triangle, keep_labels=False)
    assert len(shaped.outlines) == len(shaped.instance_areas) == shaped.count > 0


def test_region_area_of_overlapping_polygons_by_hand():
    from napari_cytoqa.detection.region import region_area, resolve_region

    squares = [np.array([[0, 0], [0, 3000], [3000, 3000], [3000, 0]], float),
               np.array([[1000, 1000], [1000, 4000], [4000, 4000], [4000, 1000]], float)]
    box, polygons = resolve_region(squares, (5000, 5000))
    assert box == (0, 0, 4000, 4000)
    assert region_area(box, polygons) == pytest.approx(2 * 3000 ** 2 - 2000 ** 2, rel=1e-3)  # the union, rasterised
    assert region_area(box, None) == 4000 ** 2
    small = resolve_region([np.array([[2, 2], [2, 22], [22, 22], [22, 2]], float)], (50, 50))
    assert region_area(*small) == 400  # exact at full resolution


def test_region_reads_only_its_box_of_a_lazy_slide():
    import dask.array as da

    from napari_cytoqa.synthetic import make_fluorescence

    tile = make_fluorescence((512, 512), seed=9).image
    full = np.tile(tile, (4, 4))  # 2048 × 2048 level 0, 256-px chunks
    read = []

    def record(block, block_info=None):
        (y0, _), (x0, _) = block_info[0]["array-location"]
        read.append((y0, x0))
        return block

    level0 = da.from_array(full, chunks=256).map_blocks(record, dtype=full.dtype)
    level1 = full[::2, ::2]  # image-wide statistics come from here (1 Mpx)
    det = detect_cells([level0, level1], detector="otsu", region=(600, 700, 900, 1100))
    assert det.count > 5 and det.origin == (600, 700)
    assert read and {(y, x) for y, x in read} <= {(y, x) for y in (512, 768) for x in (512, 768, 1024)}


def test_cell_outlines_in_pixel_edges():
    """label_outlines: the boundary at the 0.5 level in pixel-edge coordinates (corners cut by half a
    pixel), offset by the labels' origin and scaled to level 0; to_geojson(outlines=True) uses them."""
    from napari_cytoqa.detection.outlines import label_outlines
    from napari_cytoqa.detection.result import Detections

    labels = np.zeros((20, 20), np.int32)
    labels[2:12, 3:13] = 1  # covers [2, 12) x [3, 13)
    labels[15, 15] = 3  # one pixel; label 2 absent
    rings = label_outlines(labels, origin=(100, 50))
    assert set(rings) == {1, 3}
    ring = rings[1]
    assert ring.min(axis=0).tolist() == [102, 53] and ring.max(axis=0).tolist() == [112, 63]
    y, x = ring[:, 0], ring[:, 1]
    area = abs(x @ np.roll(y, -1) - y @ np.roll(x, -1)) / 2
    assert area == pytest.approx(100 - 4 * 0.125) and len(ring) <= 8  # simplified: the square, corners cut
    assert rings[3].mean(axis=0).tolist() == [115.5, 65.5]  # a pixel's diamond around its centre
    assert (label_outlines(labels, downsample=2)[1].max(axis=0) == [24, 26]).all()
    boxes = np.array([[2, 3, 12, 13], [0, 0, 0, 0], [15, 15, 16, 16]], float)
    det = Detections(boxes=boxes, scores=np.ones(3), labels=labels, route=np.array(["m"] * 3, object),
                     focus=np.zeros(3), detector="unet")
    gj = det.to_geojson(outlines=True)
    assert len(gj["features"][0]["geometry"]["coordinates"][0]) == len(ring) + 1  # closed
    assert gj["features"][1]["geometry"]["coordinates"][0][2] == [0.0, 0.0]  # no instance: its box
    assert det.to_geojson()["features"][0]["geometry"]["coordinates"][0][2] == [13.0, 12.0]  # boxes by default
