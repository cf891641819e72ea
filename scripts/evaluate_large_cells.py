"""Tiling with large cells: does the tile overlap hold whole cells when ``diameter=`` is large?

    python scripts/evaluate_large_cells.py [--scenes 6] [--size 1536] [--json out.json]

Tiles overlap so that every cell lies whole inside at least one tile (:mod:`napari_cytoqa.detection.merge`);
with the default 512-px tiles and 64-px overlap that holds for cells up to ~60 px. Held-out
synthetic fluorescence fields and smears (seeds 950000+, never used in training), rendered at
magnification 3-4.5× (cells ~50-65 px across), blur level 0, ``--size`` px square. Each detector
runs at the true median diameter with three tilings of the same image:

* ``512/64``: ``tile_size=512, overlap=64`` given explicitly (the fixed default before
  :func:`napari_cytoqa.detection.merge.tiling_for`),
* ``default``: ``detect_cells``'s own tiling (since ``tiling_for``: the overlap grows to hold
  1.5 cell diameters, the tile to three overlaps),
* ``whole``: one tile holding the whole image (the reference: nothing to merge).

Rows: AP@0.5, objects found and count APE against the truth, per detector and tiling, pooled
over the scenes.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
from evaluate_detection import add_run_arguments, apply_run_arguments

from napari_cytoqa.detection import detect_cells, evaluate_detections
from napari_cytoqa.detection.size import equivalent_diameters
from napari_cytoqa.synthetic import make_fluorescence, make_smear

DETECTORS = {"Otsu + watershed": {"detector": "otsu"},
             "U-Net combined": {"detector": "unet", "routing": "combined"},
             "U-Net routed": {"detector": "unet", "routing": "blur"},
             "YOLO routed": {"detector": "yolo", "routing": "blur"}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=6)
    ap.add_argument("--size", type=int, default=1536)
    ap.add_argument("--seed", type=int, default=950000)
    ap.add_argument("--only", default=None, help="comma-separated detector names (default: all)")
    ap.add_argument("--json", default=None)
    add_run_arguments(ap, candidate=False)
    args = ap.parse_args()
    apply_run_arguments(args)
    rng = np.random.default_rng(args.seed)
    names = args.only.split(",") if args.only else list(DETECTORS)
    tilings = {"512/64": {"tile_size": 512, "overlap": 64}, "default": {},
               "whole": {"tile_size": args.size, "overlap": 0}}
    found = {(n, t): [] for n in names for t in tilings}
    truths, rows = [], []
    for i in range(args.scenes):
        kind = ("fluorescence", "smear")[i % 2]
        scale = float(rng.uniform(3.0, 4.5))
        make = make_smear if kind == "smear" else make_fluorescence
        s = make((args.size, args.size), scale=scale, seed=args.seed + i)
        d = float(np.median(equivalent_diameters(s.labels)))
        truths.append(s.boxes)
        for n in names:
            for t, tiling in tilings.items():
                start = time.perf_counter()
                det = detect_cells(s.image, diameter=d, **DETECTORS[n], **tiling)
                found[n, t].append((det.boxes, det.scores))
                rows.append({"scene": i, "kind": kind, "scale": scale, "diameter": d, "truth": len(s.boxes),
                             "detector": n, "tiling": t, "found": int(det.count),
                             "ap50": evaluate_detections([found[n, t][-1]], [s.boxes]).ap50,
                             "seconds": time.perf_counter() - start})
                print(f"scene {i} {kind:12s} x{scale:.2f} d={d:5.1f} truth {len(s.boxes):4d} {n:18s} {t:8s} "
                      f"found {det.count:4d} AP {rows[-1]['ap50']:.3f} {rows[-1]['seconds']:.1f} s", flush=True)
    print(f"\n{'detector':18s} {'tiling':8s} {'AP@0.5':>7s} {'found':>6s} {'truth':>6s} {'count MAPE':>10s}")
    pooled = {}
    for n in names:
        for t in tilings:
            m = evaluate_detections(found[n, t], truths)
            mine = [r for r in rows if r["detector"] == n and r["tiling"] == t]
            mape = float(np.mean([abs(r["found"] - r["truth"]) / r["truth"] for r in mine]))
            pooled[f"{n} / {t}"] = {"ap50": m.ap50, "found": sum(r["found"] for r in mine),
                                    "truth": sum(r["truth"] for r in mine), "count_mape": mape}
            p = pooled[f"{n} / {t}"]
            print(f"{n:18s} {t:8s} {p['ap50']:7.3f} {p['found']:6d} {p['truth']:6d} {mape:10.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"pooled": pooled, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
