"""End-to-end check of ``cytoqa qc --truth`` on real images (validation only, nothing tuned).

    python scripts/check_qc_truth.py [--level 8] [--tile-size 128] [-- extra cytoqa qc options]

scikit-image's ``immunohistochemistry`` (RGB) and ``cell`` (gray) sample images — held-out validation
data — each get their right half defocused to blur ``--level`` with the generator's physical PSF; that
half is written as an outlined out-of-focus area (``<name>_blurry.geojson`` beside the image)
and ``cytoqa qc --truth auto`` scores the tiles against it. The transition column of tiles, whose
centres sit on the left of the border, is sharp by the marking.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import skimage.data
from PIL import Image

from napari_cytoqa.synthetic.degrade import defocus


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--level", type=float, default=8)
    parser.add_argument("--tile-size", type=int, default=128)
    args, extra = parser.parse_known_args()
    work = Path(tempfile.mkdtemp())
    for name in ("immunohistochemistry", "cell"):
        image = getattr(skimage.data, name)()
        h, w = image.shape[:2]
        half = w // 2
        blurred = defocus(image, args.level)
        out = image.copy()
        out[:, half:] = np.clip(np.rint(blurred[:, half:]), 0, 255).astype(image.dtype)
        path = work / f"{name}.png"
        Image.fromarray(out).save(path)
        ring = [[half, 0], [w, 0], [w, h], [half, h], [half, 0]]
        (work / f"{name}_blurry.geojson").write_text(json.dumps({"type": "Feature", "properties": {"objectType":
                                                               "annotation"}, "geometry": {"type": "Polygon",
                                                                                           "coordinates": [ring]}}))
    subprocess.run(["cytoqa", "qc", *map(str, sorted(work.glob("*.png"))), "--out", str(work / "out"),
                    "--tile-size", str(args.tile_size), "--truth", "auto", "--quiet",
                    *[e for e in extra if e != "--"]], check=True)
    table = pd.read_csv(work / "out" / "summary.csv")
    print(table[["image", "truth_tiles", "focus_accuracy", "blurry_recall", "sharp_recall", "verdict"]]
          .to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
