"""napari sample-data contributions (generated on the fly, deterministic)."""
from __future__ import annotations

from .io.writer import build_pyramid
from .synthetic.samples import fluorescence_field as _fluo
from .synthetic.samples import pyramid_smear, smear_with_blurry_region as _smear

_SCALE = (0.5, 0.5)  # µm per pixel of the simulated microscope


def smear_with_blurry_region():
    s = _smear()
    return [(s.image, {"name": "smear (blurry right)", "rgb": True, "scale": _SCALE,
                       "units": "µm"}, "image")]


def fluorescence_field():
    s = _fluo()
    return [(s.image, {"name": "fluorescence nuclei", "colormap": "gray", "scale": _SCALE,
                       "units": "µm"}, "image")]


def pyramidal_slide():
    levels = build_pyramid(pyramid_smear(block=512))
    return [(levels, {"name": "pyramidal slide", "rgb": True, "multiscale": True,
                      "scale": _SCALE, "units": "µm"}, "image")]
