"""Rule SF: analyse a told cell diameter ``D`` as cells of ``16 / (F · D)`` scale, ``F`` = 1.3.

    python scripts/evaluate_size_factor.py [--factor 1.3] [--scenes 4] [--sets dsb,hela,cells3d,scratch,cho]
                                           [--skip-synthetic] [--json docs/detection_eval_rule_sf.json]

Each column runs twice in the same session, with ``detection.detect.DIAMETER_FACTOR`` at 1.0 (as
shipped) and at ``--factor``, at the measured diameter of every real frame (the median equivalent
diameter of its truth; each set's primary figure: HeLa and cells3d with the border excluded, the
others whole) and, on the held-out synthetic recipe-1 series (seeds 900000+, blur levels 0-10),
at each image's own median equivalent diameter. The gates are those registered in
docs/detection.md (*Real nuclei seen smaller: rule SF*) before this script first ran.
"""
import argparse
import json
from pathlib import Path

import numpy as np
from evaluate_detection import held_out
from evaluate_hela import DEFAULT_FRAMES, inside, load, touches

from napari_cytoqa.detection import boxes_from_labels, detect, detect_cells, evaluate_detections
from napari_cytoqa.detection.size import equivalent_diameters

COLUMNS = {"YOLO routed": {"detector": "yolo", "routing": "blur"},
           "U-Net routed": {"detector": "unet", "routing": "blur"},
           "YOLO combined": {"detector": "yolo", "routing": "combined"},
           "U-Net combined": {"detector": "unet", "routing": "combined"},
           "Otsu (informational)": {"detector": "otsu"}}
#: each set's primary figure excludes objects cut by the border where its truth leaves them out
BORDER_EXCLUDED = {"hela", "cells3d"}


def real_frames(name):
    if name == "dsb":
        import tifffile
        from _wheel_data import fetch
        from skimage.segmentation import relabel_sequential

        files = fetch("img2d.tif", "mask2d.tif")
        return [(tifffile.imread(files["img2d.tif"]), relabel_sequential(tifffile.imread(files["mask2d.tif"]))[0])]
    return load([int(f) for f in DEFAULT_FRAMES[name].split(",")], name)


def score(frames, opts, factor, border_excluded):
    detect.DIAMETER_FACTOR = factor
    pairs, truth = [], []
    for img, mask in frames:
        gt = boxes_from_labels(mask)
        d = float(np.median(equivalent_diameters(mask)))
        det = detect_cells(img, diameter=d, **opts)
        b, s = np.asarray(det.boxes, float).reshape(-1, 4), np.asarray(det.scores, float)
        if border_excluded:
            k = ~touches(b, img.shape[:2])
            b, s, gt = b[k], s[k], inside(gt, img.shape[:2])
        pairs.append((b, s))
        truth.append(gt)
    detect.DIAMETER_FACTOR = 1.0
    return evaluate_detections(pairs, truth).ap50


def line(pair, factor) -> str:
    return f"shipped {pair[0]:.3f} -> x{factor} {pair[1]:.3f} ({pair[1] - pair[0]:+.3f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--factor", type=float, default=1.3)
    ap.add_argument("--scenes", type=int, default=4)
    ap.add_argument("--sets", default="dsb,hela,cells3d,scratch,cho")
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    results = {"factor": args.factor, "real": {}, "synthetic": {}}
    for name in args.sets.split(","):
        frames = real_frames(name)
        for col, opts in COLUMNS.items():
            pair = [score(frames, opts, f, name in BORDER_EXCLUDED) for f in (1.0, args.factor)]
            results["real"].setdefault(col, {})[name] = pair
            print(f"{name:8s} {col:22s} {line(pair, args.factor)}", flush=True)
    if not args.skip_synthetic:
        data = held_out(args.scenes)
        synth = [(s.image, s.labels) for s in data]
        for col, opts in COLUMNS.items():
            if col.startswith("Otsu"):
                continue
            pair = [score(synth, opts, f, False) for f in (1.0, args.factor)]
            results["synthetic"][col] = pair
            print(f"synthetic {col:22s} {line(pair, args.factor)}", flush=True)
    verdict = gates(results)
    results["gates"] = verdict
    for k, v in verdict.items():
        print(k, v)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def gates(results):
    """The registered gates: SF1 routed (mean gain >= +0.01, no set below -0.005), SF2 combined (no set
    below -0.01), SF3 synthetic routed and combined (none below -0.005)."""
    out = {}
    for col, kind in (("YOLO routed", "SF1"), ("U-Net routed", "SF1"), ("YOLO combined", "SF2"),
                      ("U-Net combined", "SF2")):
        deltas = [b - a for a, b in results["real"].get(col, {}).values()]
        if not deltas:
            continue
        ok = (np.mean(deltas) >= 0.01 and min(deltas) >= -0.005) if kind == "SF1" else min(deltas) >= -0.01
        out[f"{kind} {col}"] = {"mean": round(float(np.mean(deltas)), 4), "worst": round(float(min(deltas)), 4),
                                "pass": bool(ok)}
    for col, (a, b) in results["synthetic"].items():
        out[f"SF3 {col}"] = {"delta": round(b - a, 4), "pass": bool(b - a >= -0.005)}
    out["rule SF"] = "pass" if all(v["pass"] for v in out.values()) else "fail"
    return out


if __name__ == "__main__":
    main()
