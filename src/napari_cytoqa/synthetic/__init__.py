"""Synthetic cytology images with ground truth, and degradations of known magnitude."""
from .degrade import add_noise, dark_ring, defocus, jpeg, over_expose, stain_shift, uneven_illumination
from .psf import SHARP_MAX_LEVEL, defocus_psf, level_to_defocus_um
from .smear import (CLASSES, STAIN_STYLES, SyntheticImage, fluorescence_series, make_fluorescence,
                    make_smear, smear_series)

__all__ = ["CLASSES", "SHARP_MAX_LEVEL", "STAIN_STYLES", "SyntheticImage", "add_noise",
           "dark_ring", "defocus", "defocus_psf", "jpeg", "level_to_defocus_um",
           "fluorescence_series", "make_fluorescence", "make_smear",
           "over_expose", "smear_series", "stain_shift", "uneven_illumination"]
