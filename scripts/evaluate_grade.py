"""Tile grades of the learned method with and without ``calibration.consistent_grade`` (rule K).

    python scripts/evaluate_grade.py

1. Held-out synthetic z-series (smears and fluorescence, seeds 90,000+ as in
   ``evaluate_quality.py``, 512 × 512, levels 0–10, 256-px tiles with content): the truth is
   ``calibration.grade(level)`` (the generators' own noise lies below the first noise band).
2. Real in-focus images (scikit-image's ``immunohistochemistry`` and ``cell``, validation only;
   stardist's ``histo.jpg``), 128-px tiles: grade counts and blur levels, for reading.
"""
import numpy as np

from napari_cytoqa import assess_quality
from napari_cytoqa.quality import learned
from napari_cytoqa.quality.calibration import GRADES, grade
from napari_cytoqa.synthetic import fluorescence_series, smear_series


def argmax_grade(probs, level):
    return GRADES[int(np.argmax(probs))]


def tiles(image, tile_size, raw):
    original = learned.consistent_grade
    learned.consistent_grade = argmax_grade if raw else original
    try:
        r = assess_quality(image, tile_size=tile_size, method="learned")
    finally:
        learned.consistent_grade = original
    return r.tiles[r.tiles.has_content]


def main():
    truth, pred = [], {"argmax": [], "consistent": []}
    for i in range(4):
        maker = smear_series if i % 2 == 0 else fluorescence_series
        for s in maker((512, 512), range(11), seed=90_000 + i):
            for name, raw in (("argmax", True), ("consistent", False)):
                t = tiles(s.image, 256, raw)
                pred[name] += t.grade.tolist()
            truth += [grade(s.meta["blur_level"])] * len(t)
    truth = np.array(truth)
    for name, p in pred.items():
        print(f"held-out synthetic, {len(truth)} tiles: grade accuracy {name}: {np.mean(np.array(p) == truth):.4f}")
    from evaluate_jpeg_grade import real_images

    for name, img in real_images():
        for mode, raw in (("argmax", True), ("consistent", False)):
            t = tiles(img, 128, raw)
            print(f"{name} ({mode}): {t.grade.value_counts().to_dict()}, blur levels "
                  f"{t.blur_level.min():.1f}-{t.blur_level.max():.1f}")


if __name__ == "__main__":
    main()
