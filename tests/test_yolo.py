"""YOLO detector: offline ultralytics, dataset export, pickle-free training, box decoding."""
import numpy as np
import pytest

from napari_cytoqa.detection import detect_cells, evaluate_detections
from napari_cytoqa.detection.detect import DEFAULT_MODELS
from napari_cytoqa.detection.yolo import build_yolo, offline_ultralytics, predict_boxes
from napari_cytoqa.detection.yolo_train import YoloTrainConfig, synthetic_samples, train_yolo, write_yolo_dataset


def test_offline_setup_sets_env_and_seeds_fonts():
    import os
    from pathlib import Path

    offline_ultralytics()
    from ultralytics.utils import USER_CONFIG_DIR, is_online

    assert os.environ["YOLO_OFFLINE"] == "1" and not is_online()
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        assert (Path(USER_CONFIG_DIR) / name).stat().st_size > 100_000
    from ultralytics.utils.checks import check_font

    assert Path(check_font("Arial.ttf")).exists()  # found locally: no download attempted


def test_compact_cell_config():
    net = build_yolo()
    assert net.yaml["reg_max"] == 8 and net.stride.tolist() == [8.0, 16.0]
    assert 800_000 < sum(p.numel() for p in net.parameters()) < 900_000


class _FixedNet:
    """Stands in for a network: returns a fixed (1, 5, A) prediction in pixel xywh + score."""

    def __init__(self, rows):
        import torch

        self.out = torch.tensor(rows, dtype=torch.float32).T[None]

    def __call__(self, x):
        return self.out, {}


def test_predict_boxes_decodes_clips_and_suppresses():
    rows = [[20, 10, 8, 4, 0.9],     # x 16-24, y 8-12
            [21, 10, 8, 4, 0.8],     # duplicate of the first (IoU 0.78): suppressed
            [45, 30, 20, 10, 0.6],   # x 35-55 crosses the right edge (w = 50): clipped to 50
            [5, 5, 4, 4, 0.1],       # below the confidence threshold
            [52, 25, 8, 8, 0.7],     # centred in the padding right of the image (x 48-56): dropped
            [10, 30, 6, 0.4, 0.7]]   # 0.4 px high: dropped
    boxes, scores = predict_boxes(_FixedNet(rows), np.zeros((3, 40, 50), np.float32), "cpu", conf=0.25, iou=0.5)
    np.testing.assert_allclose(boxes, [[8, 16, 12, 24], [25, 35, 35, 50]], atol=1e-5)
    np.testing.assert_allclose(scores, [0.9, 0.6], atol=1e-6)


def test_write_yolo_dataset_labels_and_errors(tmp_path):
    img = np.zeros((40, 80, 3), np.uint8)
    data = write_yolo_dataset(tmp_path / "d", [("train", "a", img, [[10, 20, 30, 60]]), ("val", "b", img, [])])
    assert "train: images/train" in data.read_text()
    line = (tmp_path / "d" / "labels" / "train" / "a.txt").read_text().split()
    np.testing.assert_allclose([float(v) for v in line], [0, 40 / 80, 20 / 40, 40 / 80, 20 / 40])
    assert (tmp_path / "d" / "labels" / "val" / "b.txt").read_text() == ""
    with pytest.raises(ValueError, match="uint8"):
        write_yolo_dataset(tmp_path / "e", [("train", "a", img.astype(np.uint16), [])])
    with pytest.raises(ValueError, match="train and val"):
        write_yolo_dataset(tmp_path / "f", [("train", "a", img, [])])


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("yolo")
    return write_yolo_dataset(root / "data", synthetic_samples(4, [0, 8], size=64, val_fraction=0.25, seed=2))


def _tiny_config(**kw):
    return YoloTrainConfig(**{"epochs": 2, "imgsz": 64, "batch": 4, "device": "cpu", "close_mosaic": 1,
                              "cache": False, **kw})


def test_tiny_yolo_trains_without_pickles_saves_and_detects(tiny_data, tmp_path, monkeypatch):
    from napari_cytoqa.models import ModelSpec, clear_cache, get_model, save_model

    events = []
    result = train_yolo(tiny_data, _tiny_config(), progress=events.append, project=tmp_path / "run")
    epochs = [e for e in events if e["event"] == "epoch"]
    assert len(epochs) == 2 and any(e["event"] == "batch" for e in events)
    assert {"map50", "precision", "recall", "val_loss"} <= set(epochs[0])
    assert not list((tmp_path / "run").rglob("*.pt")), "no checkpoint pickle may be written"
    net = build_yolo(result.yaml)
    net.load_state_dict(result.state_dict)  # the returned weights fit the configuration exactly

    monkeypatch.setenv("CYTOQA_MODELS_DIR", str(tmp_path / "models"))
    spec = ModelSpec(name="tiny-yolo", task="detection", architecture="yolo", weights="tiny-yolo.safetensors",
                     sha256="", config={"yaml": result.yaml}, input={"threshold": 0.01})
    save_model(net, spec, tmp_path / "models", half=True)
    clear_cache()
    loaded = get_model("tiny-yolo", device="cpu")
    import torch

    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in loaded.module.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in loaded.inference_module.modules())  # fused
    from napari_cytoqa.synthetic import make_fluorescence

    img = make_fluorescence((90, 110), seed=3).image  # 16-bit, not a multiple of 32
    det = detect_cells(img, detector="yolo", model="tiny-yolo", tile_size=64, overlap=16)
    assert det.labels is None and det.boxes.shape[1] == 4 and len(det.scores) == det.count
    assert (det.boxes[:, 2] <= 90).all() and (det.boxes[:, 3] <= 110).all()
    assert set(det.route) <= {"tiny-yolo"}
    with pytest.raises(ValueError, match="not a YOLO"):
        detect_cells(img, detector="yolo", model="cytoqa-unet-combined")


def test_yolo_training_can_be_cancelled(tiny_data, tmp_path):
    from napari_cytoqa.training import TrainingCancelled

    seen = []
    with pytest.raises(TrainingCancelled):
        train_yolo(tiny_data, _tiny_config(), progress=seen.append, cancel=lambda: len(seen) >= 1,
                   project=tmp_path / "run")
    events = [e["event"] for e in seen]
    assert events.count("batch") == 1 and events.count("epoch") <= 1  # ultralytics validates the partial epoch
    # stopped after a validated epoch: the best epoch so far comes back with the exception
    seen.clear()
    with pytest.raises(TrainingCancelled) as info:
        train_yolo(tiny_data, _tiny_config(epochs=5), progress=seen.append,
                   cancel=lambda: any(e["event"] == "epoch" for e in seen), project=tmp_path / "run2")
    result = info.value.result
    assert result is not None and result.stopped and result.best_epoch == 0
    assert len([e for e in seen if e["event"] == "epoch"]) == 1  # epochs 1-4 never ran
    build_yolo(result.yaml).load_state_dict(result.state_dict)


def test_yolo_fine_tunes_from_a_state_dict(tiny_data, tmp_path):
    start = build_yolo().state_dict()
    result = train_yolo(tiny_data, _tiny_config(epochs=1), init_state=start, project=tmp_path / "run")
    assert set(result.state_dict) == set(start)


def test_default_yolo_models_are_rule_ys_and_the_earlier_ones_stay():
    from napari_cytoqa.models import list_models
    from napari_cytoqa.synthetic import make_fluorescence

    assert DEFAULT_MODELS["yolo"] == {"sharp": "cytoqa-yolo-sharp-r4", "blurry": "cytoqa-yolo-blurry",
                                      "combined": "cytoqa-yolo-combined-r4"}
    names = {s.name for s in list_models(task="detection")}
    assert {"cytoqa-yolo-sharp", "cytoqa-yolo-combined"} <= names  # still there, by name
    s = make_fluorescence((256, 256), seed=43)
    routed = detect_cells(s.image, detector="yolo", routing="blur")
    assert routed.count and set(routed.route.tolist()) == {"cytoqa-yolo-sharp-r4"}  # in focus: the sharp route
    old = detect_cells(s.image, detector="yolo", routing="blur", sharp_model="cytoqa-yolo-sharp")
    assert set(old.route.tolist()) == {"cytoqa-yolo-sharp"}


@pytest.mark.parametrize("kind", ["fluorescence-16bit", "fluorescence-8bit-gray", "smear-rgb"])
def test_shipped_yolo_detects_both_polarities_and_bit_depths(kind):
    from napari_cytoqa.synthetic import make_fluorescence, make_smear

    if kind.startswith("fluorescence"):
        s = make_fluorescence((384, 384), dtype=np.uint16 if "16" in kind else np.uint8, seed=41)
    else:
        s = make_smear((384, 384), seed=42)
    det = detect_cells(s.image, detector="yolo")
    assert det.labels is None and det.route.tolist() == [DEFAULT_MODELS["yolo"]["combined"]] * det.count
    sc = evaluate_detections([(det.boxes, det.scores)], [s.boxes])
    assert sc.ap50 > 0.85 and sc.count_mape < 0.15


def test_yolo_boxes_merge_across_tile_borders_without_duplicates():
    from napari_cytoqa.detection import box_iou
    from napari_cytoqa.synthetic import make_fluorescence

    s = make_fluorescence((400, 400), seed=43)
    whole = detect_cells(s.image, detector="yolo", tile_size=512)
    tiled = detect_cells(s.image, detector="yolo", tile_size=128, overlap=48)  # 16 tiles, cells cut everywhere
    iou = box_iou(tiled.boxes, tiled.boxes)
    np.fill_diagonal(iou, 0)
    assert (iou < 0.5).all(), "a cell was kept twice"
    agree = evaluate_detections([(tiled.boxes, tiled.scores)], [whole.boxes])
    assert agree.f1 > 0.95 and tiled.tile_counts.sum() == tiled.count


def test_every_bundled_model_matches_its_hash_and_loads():
    from napari_cytoqa.models import get_model, list_models
    from napari_cytoqa.models.registry import weights_file
    from napari_cytoqa.models.weights_io import sha256_file

    bundled = [s for s in list_models() if s.source == "bundled"]
    assert {"cytoqa-yolo-sharp", "cytoqa-yolo-sharp-recipe1", "cytoqa-yolo-sharp-recipe2", "cytoqa-yolo-combined-r3",
            "cytoqa-yolo-sharp-exposure", "cytoqa-unet-combined", "cytoqa-unet-sharp-r3",
            "cytoqa-unet-sharp-exposure"} <= {s.name for s in bundled}
    for spec in bundled:
        assert sha256_file(weights_file(spec)) == spec.sha256, spec.name
        assert get_model(spec.name, device="cpu").spec.name == spec.name


def test_over_exposure_models_find_the_cells_of_a_smear_shot_too_bright():
    """The opt-in sharp YOLO and U-Net trained with over-exposed scenes, in the sharp slot of blur
    routing, on a smear whose background and pale cells white out (gain 1.35 / 1.4)."""
    from napari_cytoqa.detection import evaluate_detections
    from napari_cytoqa.synthetic import make_smear, over_expose

    s = make_smear((256, 256), seed=45)
    bright = over_expose(s.image, 255 / 1.35)
    ap = {}
    for name in ("cytoqa-yolo-sharp", "cytoqa-yolo-sharp-exposure"):
        det = detect_cells(bright, detector="yolo", routing="blur", sharp_model=name)
        assert set(det.route.tolist()) == {name}
        ap[name] = evaluate_detections([(det.boxes, det.scores)], [s.boxes]).ap50
    assert ap["cytoqa-yolo-sharp-exposure"] >= 0.95 and ap["cytoqa-yolo-sharp-exposure"] > ap["cytoqa-yolo-sharp"] + 0.1
    det = {name: detect_cells(over_expose(s.image, 255 / 1.4), detector="unet", routing="blur", sharp_model=name)
           for name in ("cytoqa-unet-sharp", "cytoqa-unet-sharp-exposure")}
    ap = {name: evaluate_detections([(d.boxes, d.scores)], [s.boxes]).ap50 for name, d in det.items()}
    assert ap["cytoqa-unet-sharp-exposure"] >= 0.85 and ap["cytoqa-unet-sharp-exposure"] > ap["cytoqa-unet-sharp"] + 0.2


def test_opt_in_yolo_runs_by_name_and_routing_never_picks_it():
    from napari_cytoqa.synthetic import make_fluorescence

    s = make_fluorescence((256, 256), seed=43)
    det = detect_cells(s.image, detector="yolo", routing="sharp", model="cytoqa-yolo-sharp-recipe1")
    assert det.count > 0 and set(det.route.tolist()) == {"cytoqa-yolo-sharp-recipe1"}
    routed = detect_cells(s.image, detector="yolo", routing="blur")
    assert "cytoqa-yolo-sharp-recipe1" not in set(routed.route.tolist())
    chosen = detect_cells(s.image, detector="yolo", routing="blur", sharp_model="cytoqa-yolo-sharp-recipe1")
    assert set(chosen.route.tolist()) == {"cytoqa-yolo-sharp-recipe1"}  # an in-focus field: every tile sharp
    with pytest.raises(ValueError, match="routing='blur'"):
        detect_cells(s.image, detector="yolo", routing="sharp", sharp_model="cytoqa-yolo-sharp-recipe1")
    with pytest.raises(ValueError, match="sharp_model"):
        detect_cells(s.image, detector="yolo", routing="blur", model="cytoqa-yolo-sharp-recipe1")
