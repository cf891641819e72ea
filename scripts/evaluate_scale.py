"""Held-out check of ``assess_quality(pixel_size=...)``: finely sampled images judged at their
own pixels vs binned to the 0.5 µm/px the checks were made for.

    python scripts/evaluate_scale.py [--model NAME | --method classical] [--json out.json]

Synthetic held-out sources (seeds 92,000+, never used in training: smear, fluorescence and
tissue in turn) are drawn at 2× and 3× magnification — what 0.25 and 0.17 µm/px scans show — at
every blur level; each image is checked with ``tile_size`` 512 at its own pixels
(``pixel_size=None``) and with its pixel size given. The figure is the share of content tiles
called right, sharp (levels 0–5) vs blurry (6–10), and the mean graded level of in-focus
(level 0) tiles, whose truth is 0.
"""
import argparse
import json

import numpy as np

from napari_cytoqa import assess_quality
from napari_cytoqa.synthetic import fluorescence_series, smear_series
from napari_cytoqa.synthetic.tissue import tissue_series

MAKERS = (smear_series, fluorescence_series, tissue_series)


def run(model, scales=(2.0, 3.0), n_sources=6, size=1024, method="learned"):
    out = {}
    opts = dict(model=model, precision="fp32") if method == "learned" else {}
    for scale in scales:
        px = 0.5 / scale
        rows = {"native": [], "binned": []}
        for i in range(n_sources):
            for s in MAKERS[i % 3]((size, size), range(11), scale=scale, seed=92_000 + i):
                lv = int(s.meta["blur_level"])
                for mode, pixel_size in (("native", None), ("binned", px)):
                    r = assess_quality(s.image, tile_size=512, method=method, pixel_size=pixel_size, **opts)
                    t = r.tiles[r.tiles.has_content]
                    rows[mode] += [(lv, p, b) for p, b in zip(t.p_blurry, t.blur_level)]
        out[f"{px:.3g} um/px ({scale:g}x)"] = {
            mode: {"sharp 0-5 vs blurry 6-10": round(float(np.mean([(p >= 0.5) == (lv >= 6) for lv, p, _ in r])), 4),
                   "mean graded level at level 0": round(float(np.mean([b for lv, _, b in r if lv == 0])), 2),
                   "tiles": len(r)}
            for mode, r in rows.items()}
        print(json.dumps({k: out[k] for k in list(out)[-1:]}), flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--sources", type=int, default=6)
    ap.add_argument("--method", default="learned", choices=["learned", "classical"])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    res = run(args.model, n_sources=args.sources, method=args.method)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
