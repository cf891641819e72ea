"""Held-out check on a real nuclei image with ground truth (not used for training or tuning).

    python scripts/evaluate_real_nuclei.py [--json out.json] [--defocus] [--denoise auto|on|off]

Data: the 512 × 512 fluorescence image and instance mask from the 2018 Kaggle Data Science Bowl
(Caicedo et al., Nature Methods 2019) that StarDist ships in its wheel (``stardist/data/images``,
BSD-3 package), fetched from the wheel by ``_wheel_data.py``.

Each detector runs at native scale and with ``diameter=`` set to the median equivalent
diameter of the ground-truth nuclei (what an analyst gets by measuring a few nuclei) — the
value is computed, not searched — and with the diameter estimated blind from the image by
``estimate_diameter`` (what ``diameter="auto"`` uses).
"""
import argparse
import json
from pathlib import Path

import numpy as np
from _wheel_data import fetch
from evaluate_detection import add_run_arguments, apply_run_arguments, detectors

from napari_cytoqa.detection import boxes_from_labels, detect_cells, evaluate_detections
from napari_cytoqa.detection.detect import DENOISE_CHOICES
from napari_cytoqa.detection.size import equivalent_diameters, estimate_diameter
from napari_cytoqa.models.precision import FLOAT_PRECISIONS


def main():
    import tifffile
    from skimage.segmentation import relabel_sequential

    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    ap.add_argument("--precision", default=None, choices=FLOAT_PRECISIONS,
                    help="of the learned detectors (default: their defaults)")
    ap.add_argument("--only", default=None, help="comma-separated detector names to run (default: all)")
    ap.add_argument("--tta", default=None, choices=["on", "off"],
                    help="the learned detectors' tta= (mirror-image averaging; default: detect_cells' default)")
    ap.add_argument("--denoise", default=None, choices=list(DENOISE_CHOICES),
                    help="the learned detectors' denoise= (default: detect_cells' default)")
    add_run_arguments(ap)
    ap.add_argument("--defocus", action="store_true",
                    help="instead: the image defocused to every blur level 0-10 (physical PSF at the nominal "
                         "0.5 um/px), each detector told each image's estimated diameter; AP and count error per "
                         "level, and routed vs combined where the focus model routed right")
    args = ap.parse_args()
    apply_run_arguments(args)
    files = fetch("img2d.tif", "mask2d.tif")
    img = tifffile.imread(files["img2d.tif"])
    mask = relabel_sequential(tifffile.imread(files["mask2d.tif"]))[0]
    gt = boxes_from_labels(mask)
    diameter = float(np.median(equivalent_diameters(mask)))
    print(f"DSB 2018 image {img.shape} {img.dtype}: {len(gt)} nuclei, median equivalent diameter {diameter:.1f} px")
    # the same columns as the synthetic evaluation
    runs = detectors(args.precision, args.denoise, args.tta, args.candidate_sharp, args.min_score)
    if args.only:
        runs = {k: v for k, v in runs.items() if k in args.only.split(",")}
    if args.defocus:
        return defocus_series(img, gt, runs, args.json)
    auto = estimate_diameter(img)
    print(f"estimated blind (diameter='auto'): {auto:.1f} px ({auto / diameter - 1:+.1%})")
    results = {}
    print(f"{'detector':28s} {'scale':>10s} {'count':>6s} {'AP@0.5':>7s} {'P':>6s} {'R':>6s} {'F1':>6s} {'cnt APE':>8s}")
    for name, opts in runs.items():
        for label, dia in (("native", None), (f"d={diameter:.1f}", diameter), (f"auto={auto:.1f}", auto)):
            det = detect_cells(img, diameter=dia, **opts)
            sc = evaluate_detections([(det.boxes, det.scores)], [gt])
            results[f"{name} {label}"] = {"count": det.count, **sc.as_dict()}
            print(f"{name:28s} {label:>10s} {det.count:6d} {sc.ap50:7.3f} {sc.precision:6.3f} {sc.recall:6.3f} "
                  f"{sc.f1:6.3f} {sc.count_mape:8.3f}")
    results["diameter"] = {"ground_truth": diameter, "estimated": auto}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))


def defocus_series(img, gt, runs, json_path=None):
    """The real image at blur levels 0-10 (simulated defocus): seed 003's z-depth table on real nuclei."""
    from types import SimpleNamespace

    from evaluate_detection import where_right

    from napari_cytoqa.synthetic import defocus

    images = [defocus(img, level) for level in range(11)]
    dia = [estimate_diameter(im) for im in images]
    print("estimated diameter per level: " + " ".join(f"{d:.1f}" for d in dia))
    data = [SimpleNamespace(meta={"blur_level": lv}, boxes=gt) for lv in range(11)]
    preds, results = {}, {"diameter": dia}
    for name, opts in runs.items():
        preds[name] = [detect_cells(im, diameter=d, **opts) for im, d in zip(images, dia)]
        per = [evaluate_detections([(p.boxes, p.scores)], [gt]) for p in preds[name]]
        results[name] = {"ap50": [sc.ap50 for sc in per], "count_ape": [sc.count_mape for sc in per],
                         "focus": [float(np.mean(p.tile_focus)) if len(p.tile_focus) else None for p in preds[name]]}
    print(f"{'level':6s}" + "".join(f"{n[:22]:>24s}" for n in runs) + "   (AP@0.5 / count APE)")
    for lv in range(11):
        print(f"{lv:<6d}" + "".join(f"{results[n]['ap50'][lv]:>15.3f} / {results[n]['count_ape'][lv]:.3f}"
                                    for n in runs))
    for label in ("YOLO", "U-Net"):
        routed, combined = f"{label} routed (blur)", f"{label} combined"
        if routed in preds and combined in preds:
            wr = where_right(data, preds[routed], preds[combined])
            results[routed]["where_right"] = wr
            print(f"{routed} vs {combined}, {wr['images']} of 11 levels routed right "
                  f"(focus per level: {' '.join(f'{f:.1f}' for f in results[routed]['focus'])}): "
                  f"AP {wr['routed']['ap50']:.3f} vs {wr['combined']['ap50']:.3f}, count MAPE "
                  f"{wr['routed']['count_mape']:.3f} vs {wr['combined']['count_mape']:.3f}")
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
