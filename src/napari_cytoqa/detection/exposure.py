"""Over-exposure check for detection, GUI-free.

A camera set too bright clips: in brightfield the background and pale cells white out, in
fluorescence the tops of the brightest nuclei flatten. The default detectors lose much of their
accuracy there (docs/detection.md, *Over-exposed images*: AP 0.96 → 0.80 at a brightfield gain
of 1.35), and nothing in their output says so. Clipping leaves a signature that unclipped data do
not have: a share of the pixels piled up at exactly the image's maximum value.
:func:`saturated_fraction` measures it, :func:`exposure_warning` turns it into advice.
"""
from __future__ import annotations

import numpy as np

from .._dtypes import transparent_as_nan
from ..quality.assess import strided_sample

#: share of pixels at the image's maximum from which detection warns of over-exposure. Chosen on
#: development fields (seed 795000, never a held-out set): the generators' images as rendered have
#: at most a few pixels there (< 0.01 %), the over-exposed settings of ``evaluate_exposure.py``
#: 11.6–29 % (fluorescence nuclei clipped at their median / 10th percentile) and 60–86 %
#: (brightfield gain 1.35 / 1.5). Real well-exposed images (measured beside them) stay far below it:
#: ≤ 0.13 % (an Aperio H&E region, stardist's H&E and DSB nuclei, mahotas' U2OS nuclei, the
#: sample data, scikit-image's `cell` and `immunohistochemistry`).
SATURATION_WARNING = 0.02
#: the statistics sample holds about this many pixels (a strided read: exact values, no averaging)
SAMPLE_PIXELS = 1_000_000


def saturated_fraction(image) -> float:
    """Share of the (non-transparent) pixels at the image's maximum value, every colour channel
    there at once (a white-clipped brightfield background; a flattened fluorescence top). An image
    of a single value counts as unclipped (0): it is blank, not over-exposed."""
    sample = transparent_as_nan(np.asarray(strided_sample(image, SAMPLE_PIXELS)))
    if sample.ndim == 3:
        sample = sample[..., :3].min(axis=-1) if sample.shape[-1] >= 3 else sample[..., 0]
    sample = np.asarray(sample, np.float64)
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return 0.0
    top = finite.max()
    if top == finite.min():
        return 0.0
    return float(np.mean(finite >= top))


def exposure_model_name(detector: str) -> str:
    """The registry name of ``detector``'s sharp model trained with over-exposure."""
    return f"cytoqa-{detector}-sharp-exposure"


def exposure_model(fraction: float, detector: str) -> str | None:
    """The sharp model for ``routing="blur"`` by default (``sharp_model=None`` or ``"auto"``): the
    one trained with over-exposure, ``cytoqa-<detector>-sharp-exposure``, for an image with
    :data:`SATURATION_WARNING` or more of its pixels saturated, else None (the shipped sharp
    model). Rule E (docs/detection.md, *Over-exposed images*) made it the default."""
    return exposure_model_name(detector) if fraction >= SATURATION_WARNING else None


def exposure_warning(fraction: float, detector: str, *, routing=None, sharp_model=None) -> str | None:
    """The warning for a saturated share ``fraction`` (None below :data:`SATURATION_WARNING`),
    saying what was done about it or what may do better."""
    if not fraction >= SATURATION_WARNING:
        return None
    text = (f"{fraction:.0%} of the pixels sit at the image's maximum value: the image looks over-exposed, "
            "and detectors miss and merge cells on saturated images")
    if detector in ("unet", "yolo"):
        exposure = exposure_model_name(detector)
        if routing == "blur" and sharp_model == exposure:
            text += f"; its in-focus tiles went to the sharp model trained with over-exposure ({exposure})"
        elif routing in ("blur", "sharp"):
            arg = "sharp_model" if routing == "blur" else "model"
            text += f"; the sharp model trained with over-exposure may do better: {arg}={exposure!r}"
        else:
            text += (f"; routing='blur' did better on over-exposed images (its in-focus tiles then go to {exposure}; "
                     "docs/detection.md, Over-exposed images)")
    return text
