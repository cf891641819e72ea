"""Figure for docs/detection.md, *Textured chromatin*: boxes on one CTC CHO frame (development
data, see evaluate_hela.py) from the default detectors and the opt-in recipe-4 ones, at the
measured diameter.

    python scripts/figure_cho_texture.py [--out docs/images/detection_cho_recipe4.png] [--frame 5]
"""
import argparse

import matplotlib
import numpy as np
from evaluate_hela import load

from napari_cytoqa.detection import detect_cells
from napari_cytoqa.detection.size import equivalent_diameters

RUNS = (("YOLO routed (default)", dict(detector="yolo", routing="blur")),
        ("YOLO routed, sharp-r4", dict(detector="yolo", routing="blur", sharp_model="cytoqa-yolo-sharp-r4")),
        ("U-Net combined (default)", dict(detector="unet", routing="combined")),
        ("U-Net combined-r4", dict(detector="unet", routing="combined", model="cytoqa-unet-combined-r4")))


def main():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/images/detection_cho_recipe4.png")
    ap.add_argument("--frame", type=int, default=5)
    args = ap.parse_args()
    (img, truth), = load([args.frame], "cho")
    diameter = float(np.median(equivalent_diameters(truth)))
    fig, axes = plt.subplots(1, len(RUNS), figsize=(20, 5.5))
    for ax, (title, opts) in zip(axes, RUNS):
        det = detect_cells(img, diameter=diameter, **opts)
        ax.imshow(img, cmap="gray", vmax=np.percentile(img, 99.8))
        for y0, x0, y1, x1 in det.boxes:
            ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="yellow", lw=1))
        ax.set_title(f"{title}: {det.count} found, {len(np.unique(truth)) - 1} in the truth")
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(args.out, dpi=60)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
