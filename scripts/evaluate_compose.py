"""Does a composite of each tile's sharpest plane (``compose_sharpest``) beat the sharpest single plane?

Held-out synthetic fields (seeds 950000+, never used in training or tuning), each drawn at blur
levels 0-10, are stacked into five-plane focus series in two ways:

- **tilted**: the field's focal depth runs linearly across it (a tilted slide, a thick smear): at
  plane z, column x is at blur level min(10, round(5 |z - 4 x / W|)), so each plane is in focus on
  its own fifth of the field and no plane on all of it;
- **flat** (control): the whole field at blur levels 6, 3, 0, 3, 6.

Per stack: ``assess_planes`` (learned quality model, default options), the composite (blended
linearly, in a band of 0.25 of the tile spacing — rule BAND — and not), and the routed U-Net (``detect_cells`` defaults) on every plane, the sharpest plane, the
composites and the in-focus field (level 0, an upper bound). Pooled AP@0.5 against the generator's
boxes, and the slide blur level of each image.

    python scripts/evaluate_compose.py [--fields 6] [--size 512] [--tile-size 128] [--out docs/compose_eval.json]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from napari_cytoqa import assess_planes, assess_quality, detect_cells
from napari_cytoqa.detection.metrics import evaluate_detections
from napari_cytoqa.quality.compose import compose_sharpest
from napari_cytoqa.synthetic.smear import fluorescence_series

PLANES = 5


def tilted(series, size):
    """Five planes; plane z has column x at blur level min(10, round(5 |z - 4 x / W|))."""
    x = np.arange(size)
    stack = np.empty((PLANES,) + series[0].image.shape, series[0].image.dtype)
    for z in range(PLANES):
        level = np.minimum(10, np.rint(5 * np.abs(z - (PLANES - 1) * x / (size - 1)))).astype(int)
        for lv in np.unique(level):
            cols = level == lv
            stack[z][:, cols] = series[lv].image[:, cols]
    return stack


def flat(series, _size):
    return np.stack([series[lv].image for lv in (6, 3, 0, 3, 6)])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fields", type=int, default=6)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--tile-size", type=int, default=128)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    results = {}
    for name, build in (("tilted", tilted), ("flat", flat)):
        preds, truth, blur = {}, [], {}
        t0 = time.time()
        for i in range(args.fields):
            series = fluorescence_series((args.size, args.size), range(11), seed=950000 + i)
            stack = build(series, args.size)
            judged = assess_planes(stack, tile_size=args.tile_size)
            best = judged.sharpest[0]
            images = {f"plane {z}": stack[z] for z in range(PLANES)}
            images |= {"sharpest plane": stack[best], "composite": compose_sharpest(stack, judged, blend=True),
                       "composite, band 0.25": compose_sharpest(stack, judged, blend=0.25),  # rule BAND
                       "composite, no blend": compose_sharpest(stack, judged, blend=False),
                       "in-focus field (bound)": series[0].image}
            truth.append(series[0].boxes)
            for key, img in images.items():
                det = detect_cells(img, detector="unet")
                preds.setdefault(key, []).append((det.boxes, det.scores))
                blur.setdefault(key, []).append(assess_quality(img, tile_size=args.tile_size).blur_level)
            print(f"{name} field {i}: sharpest plane {best}", flush=True)
        rows = {}
        for key in preds:
            s = evaluate_detections(preds[key], truth)
            rows[key] = {"ap": round(s.ap50, 4), "recall": round(s.recall, 4), "precision": round(s.precision, 4),
                         "blur_level": round(float(np.mean(blur[key])), 3)}
        results[name] = rows
        print(f"\n{name} ({args.fields} fields, {time.time() - t0:.0f} s)")
        print(f"{'image':<26}{'AP@0.5':>8}{'recall':>8}{'prec.':>8}{'blur lvl':>10}")
        for key, r in rows.items():
            print(f"{key:<26}{r['ap']:>8.3f}{r['recall']:>8.3f}{r['precision']:>8.3f}{r['blur_level']:>10.2f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
