"""Calibrate the classical focus measure against graded physical defocus (reproducible).

Generates brightfield smears and fluorescence fields (seeds 1000–1000+N, never
scikit-image's samples) at blur levels 0–10 with varied density, stain style,
noise and a few JPEG round trips, and prints, per polarity, the median combined
log focus score at each level. The result is pasted into
``napari_cytoqa/quality/calibration.py``.

    python scripts/calibrate_classical_focus.py --n 12
"""
import argparse

import numpy as np

from napari_cytoqa.quality.measures import (IntensityStats, focus_measures, luminance,
                                            normalise)
from napari_cytoqa.synthetic import add_noise, jpeg, make_fluorescence, make_smear


def score(image):
    stats = IntensityStats.from_sample(image, image.dtype)
    return float(np.mean(focus_measures(normalise(luminance(image), stats)))), stats.polarity


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=12, help="images per level and modality")
    ap.add_argument("--size", type=int, default=384)
    args = ap.parse_args()
    curves = {"dark_on_light": [], "light_on_dark": []}
    for level in range(11):
        per = {"dark_on_light": [], "light_on_dark": []}
        for i in range(args.n):
            seed = 1000 + i
            rng = np.random.default_rng(seed)
            shape = (args.size, args.size)
            bf = make_smear(shape, seed=seed, blur_level=level, cell_density=rng.uniform(1e-4, 6e-4),
                            red_cell_density=rng.uniform(2e-4, 2e-3), noise=rng.uniform(0.005, 0.02)).image
            fl = make_fluorescence(shape, seed=seed, blur_level=level,
                                   nucleus_density=rng.uniform(3e-4, 1.6e-3)).image
            if i % 4 == 3:
                bf = jpeg(bf, quality=70)
            if i % 4 == 2:
                fl = add_noise(fl, 0.005, seed=seed)
            for img in (bf, fl):
                value, polarity = score(img)
                per[polarity].append(value)
        for polarity, values in per.items():
            curves[polarity].append(float(np.median(values)) if values else float("nan"))
    for polarity, curve in curves.items():
        mono = np.minimum.accumulate(np.asarray(curve))
        print(f"{polarity!r}: ({', '.join(f'{v:.3f}' for v in mono)}),")


if __name__ == "__main__":
    main()
