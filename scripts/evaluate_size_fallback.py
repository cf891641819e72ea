"""Rule F: the size estimate's fallback, "closest" (shipped) against "first" (candidate).

    python scripts/evaluate_size_fallback.py --part synthetic|real [--json out.json]

Where the combined U-Net's reported median diameter ``r(D)`` never reaches the size ``D`` it is
told, :func:`~napari_cytoqa.detection.size.estimate_diameter` falls back on the ``r(D)`` whose
ratio ``r(D) / D`` is closest to 1. On fragmenting textured nuclei (CTC CHO, the last cells3d
plane) that ratio lies among the fragments (0.9–0.98 at 6–16 px), far below the true size,
while the *first* size from the top whose ratio reaches ``NEAR`` is near it. This script
computes the whole ``r(D)`` curve over :data:`GRID` once per image and applies both
fallbacks (the crossing path, where ``r(D)`` reaches ``D``, is the same for both).

Images: ``synthetic`` — ``evaluate_diameter.py``'s 16 held-out scenes (seed 980000, the same
draws); ``real`` — the DSB image, HeLa frames 0, 5, 10, 15, 19, CHO plane 1 of the same frames
and cells3d planes 27–42, each against the median equivalent diameter of its truth.
"""
import argparse
import json
from pathlib import Path

import numpy as np

from napari_cytoqa.detection.size import GRID, _reported, _sample_window, diameter_from_curve, equivalent_diameters
from napari_cytoqa.synthetic import make_fluorescence, make_smear


def synthetic(n=16, size=768, seed=980000):
    rng = np.random.default_rng(seed)
    for i in range(n):
        kind = ("smear", "fluorescence")[i % 2]
        scale = float(np.exp(rng.uniform(np.log(0.6), np.log(2.5))))
        level = int(rng.choice([0, 3, 5, 8, 10]))
        make = make_smear if kind == "smear" else make_fluorescence
        s = make((size, size), blur_level=level, scale=scale, seed=seed + i)
        yield f"{kind} x{scale:.2f} level {level}", s.image, s.labels


def real():
    import tifffile
    from _wheel_data import fetch
    from evaluate_hela import load

    files = fetch("img2d.tif", "mask2d.tif")
    yield "DSB", tifffile.imread(files["img2d.tif"]), tifffile.imread(files["mask2d.tif"])
    for dataset, frames in (("hela", [0, 5, 10, 15, 19]), ("cho", [0, 5, 10, 15, 19]),
                            ("cells3d", [27, 30, 33, 36, 39, 42])):
        for f, (img, mask) in zip(frames, load(frames, dataset)):
            yield f"{dataset} {f}", img, mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=["synthetic", "real"], required=True)
    ap.add_argument("--json", default=None)
    ap.add_argument("--min-fraction", type=float, default=None,
                    help="count only instances of at least this fraction of the size told (rule F2; default: "
                         "size.MIN_FRACTION)")
    args = ap.parse_args()
    rows = []
    for name, image, labels in (synthetic() if args.part == "synthetic" else real()):
        truth = float(np.median(equivalent_diameters(labels)))
        region = _sample_window(np.asarray(image), 1024)
        curve = [(d, _reported(region, d, "cytoqa-unet-combined", "auto", min_fraction=args.min_fraction))
                 for d in GRID]
        est = {fb: diameter_from_curve(curve, fb) for fb in ("closest", "first")}
        rows.append({"image": name, "truth": truth, "curve": curve, **est})
        print(f"{name:28s} truth {truth:6.1f}  closest {est['closest'] or float('nan'):6.1f}  "
              f"first {est['first'] or float('nan'):6.1f}", flush=True)
    for fb in ("closest", "first"):
        err = np.array([abs(np.log(r[fb] / r["truth"])) if r[fb] else np.inf for r in rows])
        print(f"{fb:8s}: median |error| {np.expm1(np.median(err)):.1%}, within 10 % {np.mean(err <= np.log(1.1)):.0%}, "
              f"within 25 % {np.mean(err <= np.log(1.25)):.0%}, no estimate {int(np.isinf(err).sum())}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
