"""Held-out check of the automatic cell-size estimate (``detect_cells(diameter="auto")``).

    python scripts/evaluate_diameter.py [--scenes 16] [--size 768] [--json out.json]

Synthetic smears and fluorescence fields (seeds 980000+, never used in training or in
developing the estimator, which used seeds 960000+) at magnifications drawn log-uniformly from
0.6× to 2.5× (cell diameters ~9–45 px) and blur levels 0, 3, 5, 8, 10. Per scene: the true
median equivalent diameter, the estimate, and the combined U-Net's AP@0.5 at native scale, with
the estimate, and with the true diameter (the oracle).
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
from evaluate_detection import add_run_arguments, apply_run_arguments

from napari_cytoqa.detection import detect_cells, evaluate_detections
from napari_cytoqa.detection.size import equivalent_diameters, estimate_diameter
from napari_cytoqa.synthetic import make_fluorescence, make_smear


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=16)
    ap.add_argument("--size", type=int, default=768)
    ap.add_argument("--seed", type=int, default=980000)
    ap.add_argument("--json", default=None)
    add_run_arguments(ap, candidate=False)
    args = ap.parse_args()
    apply_run_arguments(args)
    rng = np.random.default_rng(args.seed)
    rows = []
    print(f"{'kind':12s} {'scale':>5s} {'blur':>4s} {'truth':>6s} {'est':>6s} {'ratio':>6s} {'s':>5s} "
          f"{'AP native':>9s} {'AP auto':>8s} {'AP truth':>8s}")
    for i in range(args.scenes):
        kind = ("smear", "fluorescence")[i % 2]
        scale = float(np.exp(rng.uniform(np.log(0.6), np.log(2.5))))
        level = int(rng.choice([0, 3, 5, 8, 10]))
        make = make_smear if kind == "smear" else make_fluorescence
        s = make((args.size, args.size), blur_level=level, scale=scale, seed=args.seed + i)
        truth = float(np.median(equivalent_diameters(s.labels)))
        t = time.perf_counter()
        try:
            est = estimate_diameter(s.image)
        except ValueError:
            est = float("nan")
        seconds = time.perf_counter() - t
        ap50 = {}
        for label, dia in (("native", None), ("auto", est), ("truth", truth)):
            if dia is None or np.isfinite(dia):
                det = detect_cells(s.image, detector="unet", routing="combined", diameter=dia)
                ap50[label] = evaluate_detections([(det.boxes, det.scores)], [s.boxes]).ap50
            else:
                ap50[label] = float("nan")
        rows.append({"kind": kind, "scale": scale, "blur_level": level, "truth": truth, "estimate": est,
                     "seconds": seconds, **{f"ap50_{k}": v for k, v in ap50.items()}})
        print(f"{kind:12s} {scale:5.2f} {level:4d} {truth:6.1f} {est:6.1f} {est / truth:6.2f} {seconds:5.1f} "
              f"{ap50['native']:9.3f} {ap50['auto']:8.3f} {ap50['truth']:8.3f}", flush=True)
    err = np.abs(np.log([r["estimate"] / r["truth"] for r in rows]))
    fails = int(np.isnan(err).sum())
    print(f"\n{len(rows)} scenes: median |error| {np.expm1(np.nanmedian(err)):.1%}, within 10 % "
          f"{np.mean(err < np.log(1.10)):.0%}, within 25 % {np.mean(err < np.log(1.25)):.0%}, no estimate {fails}; "
          f"median {np.median([r['seconds'] for r in rows]):.1f} s per estimate")
    for k in ("native", "auto", "truth"):
        print(f"mean AP@0.5 {k:6s}: {np.nanmean([r[f'ap50_{k}'] for r in rows]):.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
