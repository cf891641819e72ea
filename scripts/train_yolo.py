"""Train a shipped YOLO cell detector on synthetic z-series (seed 003's sharp / blurry / combined).

    python scripts/train_yolo.py --variant combined     # blur levels 0-10 (~30 min on 2 CPU cores)
    python scripts/train_yolo.py --variant sharp        # levels 0-5 (~35 min)
    python scripts/train_yolo.py --variant blurry       # levels 6-10 (~35 min)
    python scripts/train_yolo.py --scenes 6 --epochs 1 --out /tmp/m   # smoke run

Data: the U-Net's recipe (``unet_task.scene_series``: half brightfield smears in random
stains, half fluorescence nuclei, 8/16-bit) at 256 px, every scene at every blur level of the
variant (120 / 220 / 264 scenes for combined / sharp / blurry, so every variant trains on
the same number of images: 1,320 before the split), written as 8-bit network inputs (:func:`napari_cytoqa.detection.yolo.to_training_image`)
into an ultralytics dataset; whole scenes split 85/15. Model: the compact ``CELL_YOLO``
configuration, trained from scratch by ultralytics' trainer (mosaic, flips, colour jitter, AdamW),
nothing pickled. The confidence threshold stored in the spec is the one with the best F1 on the
validation scenes. Seed 0. Scikit-image images are never used.
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_cytoqa.detection.metrics import evaluate_detections
from napari_cytoqa.detection.yolo import CELL_YOLO, build_yolo, predict_boxes
from napari_cytoqa.detection.unet_task import format_recipe, parse_recipe
from napari_cytoqa.detection.yolo_train import YoloTrainConfig, synthetic_samples, train_yolo, write_yolo_dataset
from napari_cytoqa.models import ModelSpec, save_model
from napari_cytoqa.models.architectures import count_parameters
from napari_cytoqa.models.inference import for_inference

BUNDLED = Path(__file__).resolve().parents[1] / "src" / "napari_cytoqa" / "models" / "weights"
VARIANTS = {"combined": range(0, 11), "sharp": range(0, 6), "blurry": range(6, 11)}
#: scenes per variant: equal image counts (scenes × levels = 1,320); with half the images, the
#: specialists were weaker than the combined model even on their own blur levels
SCENES = {"combined": 120, "sharp": 220, "blurry": 264}


def pick_threshold(net, data_dir: Path):
    """The confidence with the best F1 (IoU 0.5) on the validation images; with its scores."""
    from PIL import Image

    images = sorted((data_dir / "images" / "val").glob("*.png"))
    preds, truths = [], []
    for path in images:
        x = np.asarray(Image.open(path).convert("RGB"), np.float32).transpose(2, 0, 1) / 255
        preds.append(predict_boxes(net, x, "cpu", conf=0.05))
        h, w = x.shape[1:]
        rows = np.loadtxt(data_dir / "labels" / "val" / f"{path.stem}.txt", ndmin=2)
        xc, yc, bw, bh = rows[:, 1] * w, rows[:, 2] * h, rows[:, 3] * w, rows[:, 4] * h
        truths.append(np.stack([yc - bh / 2, xc - bw / 2, yc + bh / 2, xc + bw / 2], 1))
    best = None
    for conf in np.arange(0.05, 0.9, 0.05):
        sc = evaluate_detections(preds, truths, score_threshold=conf).as_dict()
        if best is None or sc["f1"] > best[1]["f1"]:
            best = (round(float(conf), 2), sc)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", choices=list(VARIANTS), default="combined")
    ap.add_argument("--scenes", type=int, default=None, help="default: SCENES[variant]")
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--recipe", type=parse_recipe, default=1,
                    help="synthetic scene recipe (unet_task.RECIPES), or a mix such as 1,3 (scenes take them in turn)")
    ap.add_argument("--name", default=None, help="model name (default cytoqa-yolo-<variant>)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--workers", type=int, default=0, help="dataloader processes (raise on a GPU machine)")
    ap.add_argument("--hours", type=float, default=None,
                    help="time budget for training (ultralytics 'time': replaces --epochs by as many as fit in it, "
                         "learning-rate schedule included, and ends normally, so a job limit never loses the run)")
    ap.add_argument("--levels", default=None,
                    help="blur levels to train on as FIRST-LAST, e.g. 5-10 (default: the variant's)")
    ap.add_argument("--exposure-share", type=float, default=0.0,
                    help="share of the scenes over-exposed (unet_task.over_exposed; default 0: no over-exposure)")
    ap.add_argument("--init", default=None,
                    help="a registry YOLO model to continue training from (same data and seed; a fresh "
                         "learning-rate schedule) instead of starting from scratch")
    ap.add_argument("--out", default=str(BUNDLED))
    args = ap.parse_args()
    levels = VARIANTS[args.variant]
    if args.levels:
        first, last = (int(v) for v in args.levels.split("-"))
        if not 0 <= first <= last <= 10:
            raise SystemExit(f"--levels must be FIRST-LAST within 0-10, got {args.levels!r}")
        levels = range(first, last + 1)
    args.scenes = args.scenes or SCENES[args.variant]
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="cytoqa-yolo-data-") as tmp:
        data_dir = Path(tmp) / "data"
        data = write_yolo_dataset(data_dir, synthetic_samples(args.scenes, levels, size=256, seed=0, recipe=args.recipe,
                                                                  exposure_share=args.exposure_share))
        n_train = len(list((data_dir / "images" / "train").glob("*.png")))
        n_val = len(list((data_dir / "images" / "val").glob("*.png")))
        print(f"data: {n_train} train / {n_val} val images in {time.time() - t0:.0f} s", flush=True)
        cfg = YoloTrainConfig(epochs=args.epochs, batch=args.batch, device=args.device, seed=0, workers=args.workers)
        if args.hours:
            cfg.extra = {**cfg.extra, "time": args.hours}
        t1 = time.time()

        def progress(ev):
            if ev["event"] == "epoch":
                print(f"epoch {ev['epoch'] + 1}/{ev['epochs']}: train {ev['train_loss']:.3f} val {ev['val_loss']:.3f} "
                      f"P {ev['precision']:.3f} R {ev['recall']:.3f} mAP50 {ev['map50']:.3f} "
                      f"mAP50-95 {ev['map50_95']:.3f} ({time.time() - t1:.0f} s)", flush=True)

        init_state = None
        if args.init:
            from napari_cytoqa.models import training_state

            try:
                init_state, _ = training_state(args.init, "yolo")
            except ValueError as exc:
                raise SystemExit(f"--init: {exc}") from None
        result = train_yolo(data, cfg, progress=progress, project=Path(tmp) / "run", init_state=init_state)
        seconds = round(time.time() - t1)
        net = build_yolo(result.yaml)
        net.load_state_dict(result.state_dict)
        conf, val_scores = pick_threshold(for_inference(net), data_dir)
    best = result.history[result.best_epoch]
    name = args.name or f"cytoqa-yolo-{args.variant}"
    spec = ModelSpec(
        name=name, alias=f"YOLO ({args.variant}: blur levels {levels.start}-{levels.stop - 1})",
        task="detection", architecture="yolo", weights=f"{name}.safetensors", sha256="",
        config={"yaml": CELL_YOLO, "nc": 1},
        input={"channels": 3, "multiple": 32, "normalisation": "image luminance 0.5-99.5 percentiles -> [0, 1], "
               "gray repeated to RGB, brightfield inverted (cells bright); trained on 8-bit renderings",
               "outputs": ["boxes"], "threshold": conf, "iou": 0.5, "pixel_size_um": 0.5, "imgsz": 256,
               "blur_levels": [levels.start, levels.stop - 1], "variant": args.variant},
        data={"recipe": f"scripts/train_yolo.py --variant {args.variant} --scenes {args.scenes} "
                        f"--recipe {format_recipe(args.recipe)} "
                        + (f"--hours {args.hours} ({len(result.history)} epochs here)" if args.hours
                           else f"--epochs {args.epochs}") + (f" --name {name}" if args.name else "")
                        + (f" --init {args.init}" if args.init else "")
                        + (f" --levels {args.levels}" if args.levels else "")
                        + (f" --exposure-share {args.exposure_share:g}" if args.exposure_share else ""),
              "scene_recipe": args.recipe,  # a mix is written as a JSON list
              "seed": 0, "scenes": args.scenes,
              "train_images": n_train, "val_images": n_val,
              "sources": "synthetic smears (random stains) and fluorescence nuclei, 256 px (unet_task.scene_series)",
              "split": "group-aware 85/15 (all blur levels of a scene together)",
              "never_used": "scikit-image sample images"},
        metrics={"best_epoch": result.best_epoch + 1, "epochs_run": len(result.history), "train_seconds": seconds,
                 "device": result.device, "parameters": count_parameters(net),
                 "validation (ultralytics, synthetic)": {k: round(float(best[k]), 4)
                                                         for k in ("precision", "recall", "map50", "map50_95")},
                 f"validation at threshold {conf} (ours, IoU 0.5)": {k: round(float(v), 4)
                                                                    for k, v in val_scores.items()}})
    save_model(net, spec, args.out, half=True)
    print(f"saved {name} to {args.out}: best epoch {result.best_epoch + 1}, threshold {conf}, {val_scores}")


if __name__ == "__main__":
    main()
