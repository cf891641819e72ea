"""The classical tile scorer: band-energy focus, content, dark ring, exposure."""
from __future__ import annotations

import numpy as np

from . import calibration
from .measures import (MIN_CONTENT, IntensityStats, clipped_fraction, content_fraction,
                       dark_fraction, focus_measures, luminance, noise_sigma, normalise, tile_flag,
                       usability)


class ClassicalScorer:
    """Scores tiles with hand-made measures; no weights, no training.

    Its validity is a usability check (no dark ring, not blown out, not
    black); telling cells from non-cell objects needs the learned model.
    """

    name = "classical"
    judges_cells = False

    def __init__(self, stats: IntensityStats):
        self.stats = stats

    def score_batch(self, tiles) -> list[dict]:
        return [self.score(t) for t in tiles]

    def score(self, tile: np.ndarray) -> dict:
        st = self.stats
        lum = luminance(tile)
        g = normalise(lum, st)
        (lap, grad, mid), smoothed = focus_measures(g, return_smoothed=True)
        level = calibration.blur_level(float(np.mean((lap, grad, mid))), st.polarity)
        content = content_fraction(g, st.polarity, smoothed=smoothed)
        finite = np.where(np.isfinite(lum), lum, st.background)
        dark = dark_fraction(finite, st.full_scale) if st.polarity == "dark_on_light" else 0.0
        clipped = clipped_fraction(finite, st.full_scale)
        p_valid = usability(dark, clipped)
        noise = noise_sigma(g)
        return {
            "lap": lap, "gradient": grad, "midband": mid, "blur_level": level,
            "focus": 1.0 - level / 10.0, "p_blurry": float(calibration.p_blurry(level)),
            "content": content, "has_content": content >= MIN_CONTENT,
            "dark": dark, "clipped": clipped, "noise": noise, "p_valid": float(p_valid),
            "flag": tile_flag(dark, clipped),
        }
