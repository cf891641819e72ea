"""End-to-end check of ``cytoqa detect --truth`` on real data (validation only, nothing tuned).

    YOLO_OFFLINE=1 python scripts/check_truth_cli.py [--detector otsu|unet|yolo] [-- extra cytoqa detect options]

ndev-sampledata's scratch assay (``_wheel_data.py``; 10 frames, channels Hoechst, oblique light, nucleus
labels, cytoplasm labels): the nucleus labels of every frame become one GeoJSON of boxes with their plane
(``[0, frame]``), as a QuPath user would export annotations; each frame's Hoechst plane is detected through
the CLI with ``--truth`` and the per-frame tp / fp / fn are summed. With ``--detector otsu`` the sums must
equal ``evaluate_hela.py --dataset scratch``'s pooled "Otsu + watershed (baseline) native" figures in
docs/detection_eval_scratch.json (found 767, tp 671, fp 96, fn 59): the same detections, scored through
GeoJSON instead of label images. ``--as-labels`` passes the nucleus labels as a label stack TIFF
(frames × Y × X, no channel axis) instead: ``--truth`` reading label images must give the same sums.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import tifffile
from _wheel_data import fetch
from skimage.segmentation import relabel_sequential

from napari_cytoqa.detection import boxes_from_labels

NAME = "scratch-assay-labeled-10T-2Ch.tiff"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--detector", default="otsu")
    parser.add_argument("--as-labels", action="store_true", help="the truth as a label stack TIFF, not GeoJSON")
    args, extra = parser.parse_known_args()
    src = fetch(NAME)[NAME]
    stack = tifffile.imread(src)
    work = Path(tempfile.mkdtemp())
    feats = [{"type": "Feature", "properties": {"objectType": "annotation", "plane": [0, f]},
              "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}}
             for f in range(stack.shape[1])
             for y0, x0, y1, x1 in boxes_from_labels(relabel_sequential(stack[2, f])[0]).tolist()]
    truth = work / "scratch_truth.geojson"
    truth.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    if args.as_labels:  # the same cells as the file's own labels, one plane per frame
        truth = work / "scratch_truth_labels.tif"
        tifffile.imwrite(truth, stack[2])
    rows = []
    for f in range(stack.shape[1]):
        out = work / f"frame{f}"
        subprocess.run(["cytoqa", "detect", str(src), "--plane", f"0,{f}", "--detector", args.detector,
                        "--truth", str(truth), "--out", str(out), "--quiet", *[e for e in extra if e != "--"]],
                       check=True)
        rows.append(pd.read_csv(out / "summary.csv").iloc[0])
    t = pd.DataFrame(rows)
    tp, fp, fn = int(t.tp.sum()), int(t.fp.sum()), int(t.fn.sum())
    print(t[["cells", "truth_cells", "ap50", "tp", "fp", "fn"]].to_string(index=False))
    print(f"pooled: found {int(t.cells.sum())}, annotated {int(t.truth_cells.sum())}, tp {tp}, fp {fp}, fn {fn}, "
          f"precision {tp / (tp + fp):.3f}, recall {tp / (tp + fn):.3f}, F1 {2 * tp / (2 * tp + fp + fn):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
